"""Small file-system helpers shared by the model builders."""

from __future__ import annotations

import os
from pathlib import Path


def as_mkdir_would(path: Path) -> None:
    """Give the directory `path` the mode `mkdir` would have given it under the current umask.

    `tempfile.mkdtemp` creates directories with mode 0700, so a model built in one and then
    renamed into place could only be read by the user who built it, not by the image's
    unprivileged user or the pods that mount it.
    """
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o777 & ~umask)
