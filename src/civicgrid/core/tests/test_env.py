"""DATABASE_URL parsing: the PostgreSQL connection options the project relies on."""

from pathlib import Path

import pytest

from civicgrid.env import ConfigError, database_from_url


def test_postgres_connections_run_without_jit_unless_the_url_says_otherwise():
    db = database_from_url("postgres://u:p%40ss@db.example:6543/grid?sslmode=require", Path("/srv"))
    assert (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "grid",
        "u",
        "p@ss",
        "db.example",
        "6543",
    )
    assert db["OPTIONS"] == {"sslmode": "require", "options": "-c jit=off"}
    own = database_from_url("postgres://db.example/grid?options=-c%20jit%3Don", Path("/srv"))
    assert own["OPTIONS"]["options"] == "-c jit=on"


def test_sqlite_and_unknown_schemes():
    db = database_from_url("sqlite:///var/x.sqlite3", Path("/srv"))
    assert db["ENGINE"] == "django.db.backends.sqlite3" and "options" not in db["OPTIONS"]
    with pytest.raises(ConfigError):
        database_from_url("mysql://db/grid", Path("/srv"))
