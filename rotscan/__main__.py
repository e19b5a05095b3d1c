"""``python -m rotscan …``: the same as the ``rotscan`` command."""

from rotscan.cli import main

main()
