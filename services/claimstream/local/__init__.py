"""Development and tests: the embedded broker, the local launcher (up, demo), document files."""
