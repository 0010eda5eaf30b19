"""The `civicgrid` command: everything manage.py does, plus the project's own commands."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicgrid.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["civicgrid", *sys.argv[1:]])


if __name__ == "__main__":
    main()
