"""`python -m workers.cli …`: how `marsad up` starts its worker child process."""

from workers.cli.main import main

main()
