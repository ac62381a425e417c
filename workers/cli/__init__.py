"""The `marsad` command line: `main` (workers/cli/main.py) and one module per group of commands."""
