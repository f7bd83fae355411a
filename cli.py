"""Run the ``drain`` command from a checkout without installing it: ``python cli.py solve "..."``."""

from drain.cli import main

if __name__ == "__main__":
    main()
