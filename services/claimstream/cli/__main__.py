"""`python -m claimstream.cli`: the `claimstream` command."""

import sys

from claimstream.cli.main import main

sys.exit(main())
