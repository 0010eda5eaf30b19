from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "civicgrid.core"
    label = "core"

    def ready(self) -> None:
        # checks registers the working-calendar system checks; pgcursor the PostgreSQL cursor.
        from civicgrid.core import checks, pgcursor  # noqa: F401

        pgcursor.connect()
