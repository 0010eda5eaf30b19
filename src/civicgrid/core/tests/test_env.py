"""DATABASE_URL parsing: the PostgreSQL connection options the project relies on; settings that are
refused as they load."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from civicgrid.env import ConfigError, database_from_url


def test_postgres_connections_run_without_jit_and_with_16mb_of_work_mem_unless_the_url_says_otherwise():
    db = database_from_url("postgres://u:p%40ss@db.example:6543/grid?sslmode=require", Path("/srv"))
    assert (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "grid",
        "u",
        "p@ss",
        "db.example",
        "6543",
    )
    assert db["OPTIONS"] == {
        "sslmode": "require",
        "options": "-c jit=off -c work_mem=16MB",
        "server_side_binding": True,
        "prepare_threshold": 5,
    }
    own = database_from_url("postgres://db.example/grid?options=-c%20jit%3Don", Path("/srv"))
    assert own["OPTIONS"]["options"] == "-c jit=on"


def test_prepared_statements_can_be_tuned_or_turned_off_for_a_pooler():
    tuned = database_from_url("postgres://db.example/grid?prepare_threshold=2", Path("/srv"))
    assert (tuned["OPTIONS"]["server_side_binding"], tuned["OPTIONS"]["prepare_threshold"]) == (True, 2)
    off = database_from_url("postgres://db.example/grid?prepare_threshold=off", Path("/srv"))
    assert off["OPTIONS"]["server_side_binding"] is False and "prepare_threshold" not in off["OPTIONS"]
    with pytest.raises(ConfigError, match="prepare_threshold"):
        database_from_url("postgres://db.example/grid?prepare_threshold=soon", Path("/srv"))


def test_sqlite_and_unknown_schemes():
    db = database_from_url("sqlite:///var/x.sqlite3", Path("/srv"))
    assert db["ENGINE"] == "django.db.backends.sqlite3" and "options" not in db["OPTIONS"]
    with pytest.raises(ConfigError):
        database_from_url("mysql://db/grid", Path("/srv"))


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_options_reach_the_server():
    """A search's bitmaps stay exact only with the work_mem the connection asks for (env.py)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('work_mem'), current_setting('jit')")
        assert cursor.fetchone() == ("16MB", "off")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CIVICGRID_NOTIFY_USER_CHANNELS", "email", "must include inapp"),
        ("CIVICGRID_NOTIFY_URGENT_CHANNELS", "inapp,fax", "lists inapp, email or sms, not inapp, fax"),
    ],
)
def test_notice_channels_are_checked_as_the_settings_load(variable, value, message):
    env = {**os.environ, variable: value}
    done = subprocess.run(
        [sys.executable, "-c", "import civicgrid.settings"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1 and f"ConfigError: {variable} {message}" in done.stderr
