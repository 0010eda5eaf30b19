"""PostgreSQL cursors that prepare every statement except prefix matches.

Connections bind parameters on the server (env.database_from_url), so psycopg prepares a statement
after its fifth run and PostgreSQL may then plan it once for any parameters (a generic plan). That
halved the server's work on an API step, whose statements have no LIKE. A generic plan cannot use a
prefix index for `path LIKE $1`, though: with every scoped list prepared, a community's list at
1,000,000 cases went from 16 to 55 ms. Statements with LIKE (the scope's prefix matches, text
search) are therefore never prepared, and are planned for their actual values as before.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.postgresql.base import ServerBindingCursor
from django.db.backends.signals import connection_created


class PreparingCursor(ServerBindingCursor):
    def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None, **kwargs: Any) -> Any:
        if prepare is None and isinstance(query, str) and " LIKE " in query:
            prepare = False
        return super().execute(query, params, prepare=prepare, **kwargs)  # type: ignore[misc]


def _use_preparing_cursor(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor == "postgresql" and connection.settings_dict["OPTIONS"].get("server_side_binding"):
        connection.connection.cursor_factory = PreparingCursor


def connect() -> None:
    connection_created.connect(_use_preparing_cursor, dispatch_uid="civicgrid-preparing-cursor")
