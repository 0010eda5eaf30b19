"""Intake: create (受理), register (立案), reject (不予受理), whistle (吹哨) and merge (合并)."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.cases import deadlines, queries, rules, transitions
from civicgrid.cases.actions._common import (
    lock,
    require_status,
    require_text,
    snapshot,
    write_step,
)
from civicgrid.cases.models import (
    FINAL_STATUSES,
    Case,
    CaseType,
    Category,
    Channel,
    Status,
    StepAction,
    Urgency,
    WarnLevel,
)
from civicgrid.cases.numbering import next_number
from civicgrid.core import coords, crypto, geo
from civicgrid.core.errors import DomainError, Forbidden, InvalidInput, InvalidTransition, NotFound
from civicgrid.core.models import TERRITORIAL_KINDS, Unit, UnitKind, path_ids
from civicgrid.core.queries import units_by_id
from civicgrid.people.models import Role
from civicgrid.people.queries import memberships_of

if TYPE_CHECKING:
    from civicgrid.people.models import User


class IdempotencyConflict(DomainError):
    status = 409
    code = "idempotency_conflict"


# The channel a non-staff filer's case arrives by; staff choose any channel when filing on behalf.
_OWN_CHANNEL = {
    Role.HOUSEHOLD_LEADER: Channel.HOUSEHOLD_LEADER,
    Role.MOBILE_REPORTER: Channel.MOBILE_REPORTER,
}


def _default_channel(user: User) -> str:
    roles = {m.role for m in memberships_of(user)}
    if Role.GRID_WORKER in roles:
        return Channel.GRID_PATROL
    for role, channel in _OWN_CHANNEL.items():
        if role in roles:
            return channel
    return Channel.RESIDENT


def _allowed_channels(user: User) -> set[str]:
    if user.is_superuser or rules.has_role(user, rules.STAFF_ROLES):
        return set(Channel.values)
    return {Channel.RESIDENT, _default_channel(user)}


def _fallback_territory(user: User) -> Unit | None:
    """The filer's own lowest territorial unit, for a case without a usable point."""
    units = [m.unit for m in memberships_of(user) if m.unit.kind in TERRITORIAL_KINDS]
    return max(units, key=lambda u: u.depth) if units else None


def _place(case: Case, unit: Unit, units: dict[int, Unit]) -> None:
    """Sets territory, its path and the grid/community/subdistrict above it, from `units`.

    `units` holds at least the units of the unit's path, in path order: the deepest of a kind wins.
    """
    on_path = set(path_ids(unit.path))
    by_kind = {u.kind: u for u in units.values() if u.pk in on_path}
    case.territory = unit
    case.territory_path = unit.path
    case.grid = by_kind.get(UnitKind.GRID)
    case.community = by_kind.get(UnitKind.COMMUNITY)
    case.subdistrict = by_kind.get(UnitKind.SUBDISTRICT)


def _locate(case: Case, by: User, lat: float | None, lng: float | None, coord: str) -> None:
    if (lat is None) != (lng is None):
        raise InvalidInput(_("经纬度必须同时提供"), details={"lat": "lat and lng go together"})
    unit: Unit | None = None
    units: dict[int, Unit] = {}
    if lat is not None and lng is not None:
        if not (-90 <= lat <= 90 and -180 <= lng <= 180):
            raise InvalidInput(_("坐标超出范围"), details={"lat": lat, "lng": lng})
        if coord == "gcj02":
            lat, lng = coords.gcj02_to_wgs84(lat, lng)
        elif coord != "wgs84":
            raise InvalidInput(_("坐标系只能是 wgs84 或 gcj02"), details={"coord": coord})
        case.lat, case.lng = lat, lng
        found = geo.locate(lat, lng)
        case.locate_method = found.method
        unit_id = found.grid_id or found.community_id or found.subdistrict_id
        if unit_id:
            # The index knows the unit's path, so the unit and all above it come in one query. The
            # index may be older than the tree (it is checked every geo.CHECK_SECONDS): when the
            # unit's own row says otherwise, its path is read again from that row.
            units = units_by_id({unit_id, *path_ids(found.path)})
            unit = units.get(unit_id)
            if unit is not None and unit.path != found.path:
                units = units_by_id({unit.pk, *path_ids(unit.path)})
    if unit is None:
        unit = _fallback_territory(by)
        if unit is not None:
            case.locate_method = case.locate_method or "filer_unit"
            units = units_by_id({unit.pk, *path_ids(unit.path)})
    if unit is None:
        raise InvalidInput(_("无法确定事发地点，请在地图上选择位置"), details={"lat": "unlocated"})
    _place(case, unit, units)


def _request_hash(fields: dict[str, Any]) -> str:
    """A digest of the request that never holds the reporter's name or phone (blind-indexed first)."""
    safe = dict(fields)
    for key in ("reporter_name", "reporter_phone"):
        safe[key] = crypto.blind_index(str(safe.get(key) or ""))
    return hashlib.sha256(
        json.dumps(safe, sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()


def _replay_sql() -> str:
    table = connection.ops.quote_name(Case._meta.db_table)
    # `<> ''` repeats the unique index's condition so that a prepared (generic) plan can use it too.
    return (
        f"SELECT id, number, request_hash FROM {table}"
        " WHERE created_by_id = %s AND idempotency_key = %s AND idempotency_key <> ''"
    )


def _replay(by: User, key: str, digest: str) -> Case | None:
    # Almost every key is new, so the look-up reads three columns and the case is loaded only for a
    # replay. Hand-written: the ORM took 0.8 ms to build and read the full case row on the 2-core
    # test machine, this 0.25 ms. The unique constraint on (created_by, idempotency_key) allows
    # one row at most.
    with connection.cursor() as cursor:
        cursor.execute(_replay_sql(), [by.pk, key])
        row = cursor.fetchone()
    if row is None:
        return None
    pk, number, request_hash = row
    if request_hash != digest:
        raise IdempotencyConflict(
            _("同一个 Idempotency-Key 已用于内容不同的请求"), details={"number": number}
        )
    existing = Case.objects.get(pk=pk)
    existing.replayed = True
    return existing


def create_case(
    *,
    by: User,
    description: str,
    title: str = "",
    category: Category | None = None,
    type: str = CaseType.COMPLAINT,
    urgency: str = Urgency.NORMAL,
    channel: str | None = None,
    lat: float | None = None,
    lng: float | None = None,
    coord: str = "wgs84",
    address: str = "",
    reporter_name: str = "",
    reporter_phone: str = "",
    anonymous: bool = False,
    idempotency_key: str = "",
) -> Case:
    """Files a case (status received; a grid worker's own patrol finding is registered at once).

    With an idempotency key, the same key and the same request from the same filer return the first
    case (with `replayed` set) and a different request under that key is an IdempotencyConflict; the
    unique constraint on (created_by, idempotency_key) makes this hold between concurrent requests.
    """
    request = {
        "description": description,
        "title": title,
        "category": category.code if category else None,
        "type": str(type),
        "urgency": str(urgency),
        "channel": channel,
        "lat": lat,
        "lng": lng,
        "coord": coord,
        "address": address,
        "reporter_name": reporter_name,
        "reporter_phone": reporter_phone,
        "anonymous": anonymous,
    }
    digest = _request_hash(request) if idempotency_key else ""
    if idempotency_key:
        found = _replay(by, idempotency_key, digest)
        if found is not None:
            return found
    try:
        with transaction.atomic():
            return _create(
                by=by, request=request, category=category, idempotency_key=idempotency_key, digest=digest
            )
    except IntegrityError:
        # A concurrent request with the same key committed first: answer as its replay.
        found = _replay(by, idempotency_key, digest) if idempotency_key else None
        if found is None:
            raise
        return found


def _create(
    *, by: User, request: dict[str, Any], category: Category | None, idempotency_key: str, digest: str
) -> Case:
    description = (request["description"] or "").strip()
    if not description:
        raise InvalidInput(_("请填写问题描述"), details={"description": "required"})
    if category is not None and not category.is_active:
        raise InvalidInput(_("该分类已停用"), details={"category": category.code})
    # The categories GET /categories hides from a resident (internal matters) are not theirs to file in.
    if category is not None and not category.public and not rules.is_staff_viewer(by):
        raise InvalidInput(_("该分类不受理群众反映"), details={"category": category.code})
    if request["type"] not in CaseType.values:
        raise InvalidInput(_("未知的类型"), details={"type": request["type"]})
    if request["urgency"] not in Urgency.values:
        raise InvalidInput(_("未知的紧急程度"), details={"urgency": request["urgency"]})
    channel = request["channel"] or _default_channel(by)
    if channel not in Channel.values:
        raise InvalidInput(_("未知的渠道"), details={"channel": channel})
    if channel not in _allowed_channels(by):
        raise Forbidden(_("无权以该渠道提交"), details={"channel": channel})
    anonymous = bool(request["anonymous"])
    if anonymous and category is not None and not category.anonymous_allowed:
        raise InvalidInput(
            _("该类事项不受理匿名反映"), details={"anonymous": "not allowed for this category"}
        )
    # Stored and indexed as the digits alone, so that "139 1234-5678" finds the caller's other cases.
    phone = "" if anonymous else crypto.plain_phone(request["reporter_phone"] or "")
    name = "" if anonymous else (request["reporter_name"] or "").strip()
    if phone and not crypto.is_phone(phone):
        raise InvalidInput(_("联系电话格式不正确"), details={"reporter_phone": "invalid"})

    now = timezone.now()
    case = Case(
        channel=channel,
        type=request["type"],
        category=category,
        urgency=request["urgency"],
        title=(request["title"] or "").strip()[:100],
        description=description,
        address=(request["address"] or "").strip()[:200],
        anonymous=anonymous,
        reporter_name_enc=crypto.encrypt(name),
        reporter_phone_enc=crypto.encrypt(phone),
        reporter_phone_index=crypto.blind_index(phone),
        created_by=by,
        idempotency_key=idempotency_key,
        request_hash=digest,
        answer_by=deadlines.answer_by(now, category, request["urgency"]),
    )
    # Non-staff filers follow and rate their own cases; staff file on somebody else's behalf.
    if not (by.is_superuser or rules.has_role(by, rules.STAFF_ROLES)):
        case.reporter_user = by
    _locate(case, by, request["lat"], request["lng"], request["coord"])
    note = ""
    patrol = channel == Channel.GRID_PATROL and rules.membership_over(
        by, [Role.GRID_WORKER], case.territory_path
    )
    if patrol:
        case.status = Status.REGISTERED
        case.registered_at = case.answered_at = now
        note = "网格员巡查发现，直接立案"
    case.number = next_number(now)
    # write_step inserts it with its step, in one statement built once: the ORM assembled the 59-column
    # INSERT on every filing.
    case.has_photos = case.has_pending_extension = False  # type: ignore[attr-defined]  # as case_for_update
    case.held_steps = []  # type: ignore[attr-defined]  # its timeline so far: the reply needs no read
    unit = patrol.unit if patrol else _acting_unit(by, case)
    write_step(case, StepAction.CREATE, by=by, unit=unit, before=None, at=now, note=note)
    return case


def _acting_unit(by: User, case: Case) -> Unit | None:
    m = rules.membership_over(by, rules.STAFF_ROLES, case.territory_path)
    return m.unit if m else None


@transaction.atomic
def register_case(case: Case | str, *, by: User, note: str = "") -> Case:
    """Received → registered (立案), by community staff, the dispatcher or the grid worker of its place."""
    case = lock(case, by)
    unit = rules.require_over(
        by, rules.INTAKE_ROLES, case.territory_path, _("只有属地的网格员、社区或街道可以立案")
    )
    require_status(case, transitions.REGISTRABLE, _("只有已受理的工单可以立案"))
    before = snapshot(case)
    now = timezone.now()
    case.status = Status.REGISTERED
    case.registered_at = now
    case.answered_at = case.answered_at or now
    write_step(case, StepAction.REGISTER, by=by, unit=unit, before=before, at=now, note=note)
    return case


def rejecting_unit(case: Case, by: User) -> Unit | None:
    """As which unit the user may refuse the case now (no query); Forbidden or InvalidTransition if not."""
    unit = rules.require_over(
        by, rules.INTAKE_ROLES, case.territory_path, _("只有属地的网格员、社区或街道可以不予受理")
    )
    require_status(case, transitions.REJECTABLE, _("该工单已在办理中，不能不予受理"))
    if case.status == Status.ESCALATED and not by.is_superuser:
        # Once the whistle is blown the case waits at the subdistrict, which alone may refuse it.
        unit = rules.require_over(by, [Role.DISPATCHER], case.territory_path, _("已吹哨的工单由街道处理"))
    return unit


@transaction.atomic
def reject_case(case: Case | str, *, by: User, reason: str) -> Case:
    """Refuses a case with a reason the reporter sees (不予受理)."""
    case = lock(case, by)
    unit = rejecting_unit(case, by)
    reason = require_text(reason, "reason", _("请填写不予受理的理由"))
    before = snapshot(case)
    now = timezone.now()
    case.status = Status.REJECTED
    case.reject_reason = reason[:500]
    case.answered_at = case.answered_at or now
    write_step(case, StepAction.REJECT, by=by, unit=unit, before=before, at=now, note=reason)
    return case


@transaction.atomic
def whistle_case(case: Case | str, *, by: User, note: str = "") -> Case:
    """The community blows the whistle (吹哨): the case goes up to the subdistrict centre."""
    case = lock(case, by)
    unit = rules.require_over(by, [Role.COMMUNITY_STAFF], case.territory_path, _("只有属地社区可以吹哨"))
    require_status(case, transitions.WHISTLEABLE, _("只有已受理或已立案的工单可以吹哨"))
    before = snapshot(case)
    now = timezone.now()
    case.status = Status.ESCALATED
    case.registered_at = case.registered_at or now
    case.answered_at = case.answered_at or now
    write_step(case, StepAction.WHISTLE, by=by, unit=unit, before=before, at=now, note=note)
    return case


@transaction.atomic
def merge_case(case: Case | str, *, by: User, into: Case | str, note: str = "") -> Case:
    """A duplicate becomes merged and follows its target (which must be open and in the user's scope)."""
    from civicgrid.cases.queries import cases_visible_to

    source_number = case if isinstance(case, str) else case.number
    target_number = into if isinstance(into, str) else into.number
    if source_number == target_number:
        raise InvalidInput(_("不能合并到工单自身"), details={"into": target_number})
    visible = dict(
        cases_visible_to(by).filter(number__in=[source_number, target_number]).values_list("number", "pk")
    )
    if source_number not in visible:
        raise NotFound(_("工单不存在"))
    if target_number not in visible:
        raise NotFound(_("要合并到的工单不存在"), details={"into": target_number})
    # Lock both rows in id order so that two merges of the same pair cannot deadlock.
    locked = {
        c.pk: c for c in Case.objects.select_for_update().filter(pk__in=visible.values()).order_by("pk")
    }
    source, target = locked[visible[source_number]], locked[visible[target_number]]
    unit = rules.require_over(
        by,
        [Role.DISPATCHER, Role.COMMUNITY_STAFF],
        source.territory_path,
        _("只有属地社区或街道可以合并工单"),
    )
    require_status(source, transitions.MERGEABLE, _("该工单当前不能合并"))
    if target.status in FINAL_STATUSES:
        raise InvalidTransition(_("要合并到的工单已办结或已合并"), details={"into": target.number})
    before = snapshot(source)
    now = timezone.now()
    for assignment in queries.active_assignments(source):
        assignment.active = False
        assignment.save(update_fields=["active"])
    source.active_assignments = []  # type: ignore[attr-defined]
    source.status = Status.MERGED
    source.merged_into = target
    source.sign_by = source.due_at = source.yellow_at = None
    source.warn_level = WarnLevel.NONE
    source.answered_at = source.answered_at or now
    write_step(
        source,
        StepAction.MERGE,
        by=by,
        unit=unit,
        before=before,
        at=now,
        note=note,
        extra={"into": target.number},
    )
    return source
