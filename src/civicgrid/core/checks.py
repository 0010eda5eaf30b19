"""System checks for the working calendar and the keys (`manage.py check`, runserver, migrate).

Registered by importing this module from CoreConfig.ready().
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.db import DatabaseError
from django.utils import timezone

from civicgrid.core.workcal import WorkingHoursError, calendar_knows_year, parse_spans


def _skipped(app_configs: Sequence[AppConfig] | None) -> bool:
    return app_configs is not None and not any(c.label == "core" for c in app_configs)


@register("civicgrid")
def check_working_hours(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """A bad CIVICGRID_WORKING_HOURS would otherwise surface only when the first deadline is computed."""
    if _skipped(app_configs):
        return []
    try:
        parse_spans(settings.CIVICGRID_WORKING_HOURS)
    except WorkingHoursError as exc:
        return [
            Error(
                f"CIVICGRID_WORKING_HOURS is not usable: {exc}",
                hint="Set it to working periods like 08:30-12:00,14:00-17:30 (see docs/time-limits.md).",
                id="core.E101",
            )
        ]
    return []


@register("civicgrid")
def check_calendar_years(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """Warn while the current or next year's holidays are known neither to chinese_calendar nor to overrides.

    Deadlines run into next year well before New Year, so the warning starts a year ahead. Any override
    in a year counts as "entered": operators enter a year's official schedule all at once.
    """
    if _skipped(app_configs):
        return []
    this_year = timezone.localdate().year
    unknown = [y for y in (this_year, this_year + 1) if not calendar_knows_year(y)]
    if not unknown:
        return []
    from civicgrid.core.models import CalendarOverride

    # This check reads the database although Django's own checks mostly do not: the warning is only
    # true when no overrides exist. Before `migrate` the table is missing, which means "none entered".
    entered: set[int] = set()
    try:
        for year in unknown:
            if CalendarOverride.objects.filter(date__year=year).exists():
                entered.add(year)
    except DatabaseError:
        pass
    return [
        Warning(
            f"The working calendar does not know the holidays of {year}: chinese_calendar has no data for "
            "it and no calendar overrides exist for it, so time limits count Monday to Friday as working "
            "days.",
            hint=(
                f"Enter {year}'s public holidays and adjusted working days at /admin/core/calendaroverride/, "
                "or upgrade chinese_calendar once it covers the year (docs/time-limits.md)."
            ),
            id="core.W101",
        )
        for year in unknown
        if year not in entered
    ]


@register("civicgrid", deploy=True)
def check_data_key(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """Without its own key, personal data is encrypted with the secret key (core.crypto), and rotating
    the secret key, which signs sessions and photo links, would make every stored phone unreadable."""
    if _skipped(app_configs) or not settings.PRODUCTION or settings.CIVICGRID_DATA_KEY:
        return []
    return [
        Warning(
            "CIVICGRID_DATA_KEY is not set: reporters' names and phones and identity numbers are encrypted "
            "with CIVICGRID_SECRET_KEY, and changing that key would make them unreadable.",
            hint="Set CIVICGRID_DATA_KEY to the current CIVICGRID_SECRET_KEY, and keep it apart from backups "
            "(docs/configuration.md, 'Rotating the secret key').",
            id="core.W102",
        )
    ]
