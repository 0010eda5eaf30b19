"""Fixtures every app's tests share."""

from __future__ import annotations

import os

import pytest

# Playwright's sync API runs an event loop in the test thread; Django would then refuse ORM calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_configure(config):
    from django.conf import settings

    # PBKDF2 costs ~0.2 s per hash by design; the suite creates hundreds of accounts.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_geo_index():
    """The locate index lives per process, not per test database: start and end each test clean."""
    from civicgrid.core import geo

    geo.invalidate_index()
    yield
    geo.invalidate_index()


@pytest.fixture(autouse=True)
def fresh_working_calendar(monkeypatch):
    """The working calendar re-reads its overrides when 5 s of the process's clock have passed since the
    last read: a query count would depend on how long the test (or the one before) took, and a test
    could see the overrides of one rolled back before it. Each test starts with the calendar forgotten
    and a clock that stands still; a test of the re-reading sets its own clock."""
    from civicgrid.core import workcal

    workcal.invalidate()
    monkeypatch.setattr(workcal, "_clock", lambda: 0.0)
    yield
    workcal.invalidate()


@pytest.fixture(autouse=True)
def default_language():
    """LocaleMiddleware activates a request's language for the thread and leaves it active: a test that
    asks for English would make the tests after it (code outside requests) English too."""
    from django.utils import translation

    yield
    translation.deactivate()


@pytest.fixture
def world(db):
    from civicgrid.testing import build_world

    return build_world()


@pytest.fixture
def api_client():
    from django.test import Client

    return Client()


def pytest_collection_modifyitems(config, items):
    """Tests marked `postgres` run only when DATABASE_URL points at PostgreSQL."""
    from django.conf import settings

    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL=postgres://…)")
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(skip)


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser():
    """The system Chromium through Playwright (never a downloaded browser)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("page tests need Debian's chromium at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser page (desk-sized); `page.base` is the live server's address."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    tab = context.new_page()
    tab.base = live_server.url
    yield tab
    context.close()


@pytest.fixture
def phone(browser, live_server):
    """A phone-sized page (360×740, touch)."""
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    tab = context.new_page()
    tab.base = live_server.url
    yield tab
    context.close()
