"""``python -m dlcli``: the same as the ``dlcli`` command."""
from dlcli.cli.app import main

if __name__ == "__main__":
    main()
