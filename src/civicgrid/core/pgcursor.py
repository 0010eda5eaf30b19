"""PostgreSQL connections: cursors that prepare every statement except prefix matches, and time
stamps read in C.

Connections bind parameters on the server (env.database_from_url), so psycopg prepares a statement
after its fifth run and PostgreSQL may then plan it once for any parameters (a generic plan). That
halved the server's work on an API step, whose statements have no LIKE. A generic plan cannot use a
prefix index for `path LIKE $1`, though: with every scoped list prepared, a community's list at
1,000,000 cases went from 16 to 55 ms. Statements with LIKE (the scope's prefix matches, text
search) are therefore never prepared, and are planned for their actual values as before.

Django reads `timestamptz` with a subclass of psycopg's pure-Python loader (Django ticket #36960;
psycopg's C loader cannot be subclassed, psycopg issue #1273), which parses every value with a
regular expression in Python: the locked case of a step carries twenty time stamps, and the Python
loader cost the read a quarter of its time. With the connection in UTC, as Django keeps it when
USE_TZ is on, the C loader returns exactly what Django's does (aware, `datetime.timezone.utc`).
"""

from __future__ import annotations

import datetime
import functools
from typing import Any

from django.db.backends.postgresql.base import ServerBindingCursor
from django.db.backends.signals import connection_created


class PreparingCursor(ServerBindingCursor):
    def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None, **kwargs: Any) -> Any:
        if prepare is None and isinstance(query, str) and " LIKE " in query:
            prepare = False
        return super().execute(query, params, prepare=prepare, **kwargs)  # type: ignore[misc]


@functools.cache
def _utc_timestamptz_loader() -> type | None:
    """A text `timestamptz` loader running psycopg's C loader, if the C extension (psycopg[binary])
    is installed."""
    from psycopg import adapters
    from psycopg.adapt import Loader
    from psycopg.types.datetime import TimestamptzLoader

    c_loader = adapters._get_optimised(TimestamptzLoader)
    if c_loader is TimestamptzLoader:
        return None

    class UTCTimestamptzLoader(Loader):
        # Django's create_cursor compares this with the connection's time zone and, when they
        # differ, puts its own loader back for that cursor.
        timezone = datetime.UTC

        def __init__(self, oid: int, context: Any = None):
            super().__init__(oid, context)
            # psycopg calls `loader.load` for each value: the C loader's own method, no Python frame.
            self.load = c_loader(oid, context).load  # type: ignore[method-assign]

        def load(self, data: Any) -> datetime.datetime:  # replaced per instance; Loader requires it
            raise AssertionError("replaced in __init__")

    return UTCTimestamptzLoader


def _set_up(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor != "postgresql":
        return
    if connection.settings_dict["OPTIONS"].get("server_side_binding"):
        connection.connection.cursor_factory = PreparingCursor
    loader = _utc_timestamptz_loader()
    if loader is not None and connection.timezone is datetime.UTC and connection.timezone_name == "UTC":
        connection.connection.adapters.register_loader("timestamptz", loader)


def connect() -> None:
    connection_created.connect(_set_up, dispatch_uid="civicgrid-preparing-cursor")
