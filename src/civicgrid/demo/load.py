"""Loads the demo world into the database, idempotently: what exists (by code or username) is kept.

Units go through `create_unit`/`update_unit`, one audited row each. For the ~2,850 units that costs
about 1.3 s of CPU on SQLite (measured), fast enough that a bulk loader, which would repeat
create_unit's path and bounding-box logic and replace the per-unit audit rows, does not pay for itself.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import Q

from civicgrid.cases.models import Category
from civicgrid.core.actions import create_unit, update_unit
from civicgrid.core.models import Unit
from civicgrid.demo import world
from civicgrid.people.actions import add_membership, create_user
from civicgrid.people.models import User


@dataclass
class LoadReport:
    """What one load created and changed, by kind of thing."""

    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def changed_anything(self) -> bool:
        return bool(self.created or self.updated)


def load_world(*, by: Any = None) -> LoadReport:
    """Creates what is missing of the demo world and brings changed demo rows back to the definition."""
    report = LoadReport()
    started = time.perf_counter()
    with transaction.atomic():
        units = _load_units(report, by)
        _load_categories(units, report)
        _load_accounts(units, report, by)
        from civicgrid.intake.actions import issue_demo_key

        issue_demo_key()  # the Open311 demo key `open311-demo-key` (docs/open311.md)
    report.seconds = time.perf_counter() - started
    return report


def _demo_units() -> dict[str, Unit]:
    prefixes = Q(code=world.CITY_CODE) | Q(code__startswith=world.COUNTY_CODE)
    return {u.code: u for u in Unit.objects.filter(prefixes).select_related("parent") if u.code}


def _load_units(report: LoadReport, by: Any) -> dict[str, Unit]:
    units = _demo_units()
    for spec in world.units():
        parent = units[spec.parent_code] if spec.parent_code else None
        unit = units.get(spec.code)
        if unit is None:
            units[spec.code] = create_unit(
                kind=spec.kind, name=spec.name, parent=parent, code=spec.code, polygon=spec.polygon, by=by
            )
            report.created[spec.kind] += 1
            continue
        wanted = {"kind": spec.kind, "name": spec.name, "parent": parent, "polygon": spec.polygon}
        changes = {key: value for key, value in wanted.items() if getattr(unit, key) != value}
        if changes:
            units[spec.code] = update_unit(unit, by=by, **changes)
            report.updated[spec.kind] += 1
    return units


def _load_categories(units: dict[str, Unit], report: LoadReport) -> None:
    # There is no category action yet; the demo writes them with the ORM, keyed on the code.
    existing = {c.code: c for c in Category.objects.filter(code__in=[s.code for s in world.categories()])}
    for spec in world.categories():
        values = {
            "name": spec.name,
            "parent": existing[spec.parent_code] if spec.parent_code else None,
            "nature": spec.nature,
            "description": spec.description,
            "handle_limit": spec.limit[0],
            "handle_limit_unit": spec.limit[1],
            "default_lead_unit": units[spec.lead],
            "anonymous_allowed": spec.anonymous_allowed,
            "arrival_required": spec.arrival_required,
            "public": spec.public,
        }
        category = existing.get(spec.code)
        if category is None:
            existing[spec.code] = Category.objects.create(code=spec.code, **values)
            report.created["category"] += 1
        elif any(getattr(category, key) != value for key, value in values.items()):
            existing[spec.code], _ = Category.objects.update_or_create(code=spec.code, defaults=values)
            report.updated["category"] += 1


def _load_accounts(units: dict[str, Unit], report: LoadReport, by: Any) -> None:
    # An existing demo account is left as it is (its password too): a second run changes nothing.
    users = {
        u.username: u for u in User.objects.filter(username__in=[a.username for a in world.DEMO_ACCOUNTS])
    }
    password_hash = ""
    for account in world.DEMO_ACCOUNTS:
        user = users.get(account.username)
        if user is None:
            # Hashing takes ~0.2 s (PBKDF2): hashing the one public demo password once instead of
            # per account makes the first load 2.5 s faster; a shared salt does not matter for a
            # password printed on the screen.
            password_hash = password_hash or make_password(world.PASSWORD)
            user = create_user(
                username=account.username,
                password=None,
                password_hash=password_hash,
                display_name=account.display_name,
                is_staff=account.is_superuser,
                is_superuser=account.is_superuser,
                validate=False,
                by=by,
            )
            report.created["user"] += 1
        unit = units[account.unit_code]
        if not user.memberships.filter(unit=unit, role=account.role).exists():
            add_membership(user, unit, account.role, by=by)
            report.created["membership"] += 1
