"""``python -m drain`` runs the ``drain`` command."""

from drain.cli import main

main()
