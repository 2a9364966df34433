"""Command-line interface: parses options, calls the core, prints results (stdout) and messages (stderr)."""
