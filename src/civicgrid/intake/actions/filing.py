"""Filing a resident report, retry-safe; the case itself is written by cases.actions (file_report)."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from civicgrid.cases import actions as case_actions
from civicgrid.cases.actions.photos import PreparedPhoto, prepare_photo
from civicgrid.cases.actions.public import MAX_REPORT_PHOTOS
from civicgrid.cases.models import Case, CaseType, Category, Channel
from civicgrid.core import crypto
from civicgrid.core.errors import DomainError, Forbidden, InvalidInput
from civicgrid.core.models import UnitKind
from civicgrid.intake import limits
from civicgrid.intake.actions.tickets import issue_ticket, reporter_code
from civicgrid.intake.models import (
    LocationSource,
    MobileReporterProfile,
    Open311Key,
    Source,
    Submission,
    TicketKind,
)
from civicgrid.intake.queries import point_for_address
from civicgrid.people import actions as people_actions
from civicgrid.people.models import Role, User
from civicgrid.people.queries import memberships_of

# The account that files what arrives without one (anonymous web and Open311 app submissions).
# Inactive with no password: nobody signs in as it, it sees nothing, and notifications skip it.
WEB_ACCOUNT = "intake-web"
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_DESCRIPTION = 4000
_RACE_ATTEMPTS = 8
# A signed-in filer of these units may leave the place out: create_case places it at their unit.
_PLACED_KINDS = (
    UnitKind.SUBDISTRICT,
    UnitKind.COMMUNITY,
    UnitKind.GRID,
    UnitKind.BUILDING,
    UnitKind.HOUSEHOLD_GROUP,
)


class Honeypot(DomainError):
    status = 400
    code = "rejected"


class IdempotencyConflict(DomainError):
    status = 409
    code = "idempotency_conflict"


def web_account() -> User:
    user = User.objects.filter(username=WEB_ACCOUNT).first()
    if user is not None:
        return user
    for attempt in range(_RACE_ATTEMPTS):
        try:
            with transaction.atomic():
                # Inactive and without a password: this system account can never sign in.
                user = people_actions.create_user(
                    username=WEB_ACCOUNT,
                    password=None,
                    display_name="群众（网页/接口）",
                    validate=False,
                    is_active=False,
                )
            break
        except (IntegrityError, InvalidInput):
            # Another request is creating it: wait until its transaction has committed.
            user = User.objects.filter(username=WEB_ACCOUNT).first()
            if user is not None:
                return user
            time.sleep(0.05 * (attempt + 1))
    return User.objects.get(username=WEB_ACCOUNT)


@dataclass
class ReportInput:
    description: str
    category: str
    type: str = CaseType.COMPLAINT
    lat: float | None = None
    lng: float | None = None
    coord: str = "wgs84"
    address: str = ""
    community: str = ""
    location_source: str = ""
    name: str = ""
    phone: str = ""
    anonymous: bool = False
    on_behalf: bool = False
    attributes: dict[str, Any] = field(default_factory=dict)
    idempotency_key: str = ""
    honeypot: str = ""


@dataclass
class Filed:
    case: Case
    code: str
    replayed: bool = False


def _open_photo_bytes(name: str, data: bytes) -> tuple[str, bytes]:
    """HEIC/HEIF (iPhones) becomes a JPEG first when pillow-heif is installed; the rest stays as is."""
    if data[4:12] not in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypmsf1", b"ftyphevc"):
        return name, data
    try:
        import pillow_heif
        from PIL import Image
    except ImportError:
        raise InvalidInput(
            _("暂不支持 HEIC 格式的照片“%(name)s”，请改用 JPEG") % {"name": name}, details={"photos": name}
        ) from None
    pillow_heif.register_heif_opener()
    try:
        with Image.open(BytesIO(data)) as image:
            out = BytesIO()
            image.convert("RGB").save(out, format="JPEG", quality=92)
    except Exception as exc:  # a broken HEIC is a bad upload like any other
        raise InvalidInput(
            _("文件“%(name)s”不是有效的图片") % {"name": name}, details={"photos": name}
        ) from exc
    return name, out.getvalue()


def prepare_photos(files: Sequence[tuple[str, bytes]]) -> list[PreparedPhoto]:
    """Verifies and re-encodes uploads (without EXIF); several at once on several cores."""
    if len(files) > MAX_REPORT_PHOTOS:
        raise InvalidInput(
            _("最多上传 %(count)s 张照片") % {"count": MAX_REPORT_PHOTOS}, details={"photos": "too many"}
        )
    for name, data in files:
        if len(data) > MAX_PHOTO_BYTES:
            raise InvalidInput(_("照片“%(name)s”超过 10 MB") % {"name": name}, details={"photos": name})

    def one(item: tuple[str, bytes]) -> PreparedPhoto:
        return prepare_photo(*_open_photo_bytes(*item))

    if len(files) <= 1:
        return [one(f) for f in files]
    # Pillow releases the GIL while it decodes and encodes, so threads use several cores.
    with ThreadPoolExecutor(max_workers=min(len(files), 4)) as pool:
        return list(pool.map(one, files))


def request_digest(data: ReportInput, photos: Sequence[tuple[str, bytes]], extra: dict[str, Any]) -> str:
    body = {
        "description": data.description,
        "category": data.category,
        "type": data.type,
        "lat": data.lat,
        "lng": data.lng,
        "coord": data.coord,
        "address": data.address,
        "community": data.community,
        "name": crypto.blind_index(data.name),
        "phone": crypto.blind_index(data.phone),
        "anonymous": data.anonymous,
        "on_behalf": data.on_behalf,
        "attributes": data.attributes,
        "photos": [hashlib.sha256(b).hexdigest() for _, b in photos],
        **extra,
    }
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()


def _replay(scope: str, key: str, digest: str) -> Filed | None:
    found = Submission.objects.select_related("case").filter(idem_scope=scope, idem_key=key).first()
    if found is None:
        return None
    if found.request_hash != digest:
        raise IdempotencyConflict(_("同一提交编号已用于内容不同的反映"), details={"key": key})
    return Filed(found.case, reporter_code(found.case), replayed=True)


def public_category(code: str) -> Category:
    category = Category.objects.filter(code=code, public=True, is_active=True).first()
    if category is None:
        raise InvalidInput(_("请选择问题分类"), details={"category": code or "required"})
    return category


def check_attributes(category: Category, given: dict[str, Any]) -> list[tuple[str, str]]:
    """Validates answers to the category's extra questions; returns (question, answer) lines."""
    definition = getattr(category, "service_definition", None)
    lines: list[tuple[str, str]] = []
    for attr in sorted(definition.attributes if definition else [], key=lambda a: a.get("order", 0)):
        if not attr.get("variable", True):
            continue
        code = str(attr.get("code", ""))
        value = given.get(code)
        values = value if isinstance(value, list) else ([value] if value not in (None, "") else [])
        values = [str(v).strip() for v in values if str(v).strip()]
        if not values:
            if attr.get("required"):
                raise InvalidInput(
                    _("请回答：%(question)s") % {"question": attr.get("description") or code},
                    details={f"attribute[{code}]": "required"},
                )
            continue
        datatype = attr.get("datatype", "string")
        if datatype in ("singlevaluelist", "multivaluelist"):
            names = {str(v.get("key")): str(v.get("name")) for v in attr.get("values", [])}
            if any(v not in names for v in values) or (datatype == "singlevaluelist" and len(values) > 1):
                raise InvalidInput(
                    _("“%(question)s”的选项无效") % {"question": attr.get("description") or code},
                    details={f"attribute[{code}]": values},
                )
            shown = "、".join(names[v] for v in values)
        elif datatype == "number":
            try:
                float(values[0])
            except ValueError:
                raise InvalidInput(
                    _("“%(question)s”须为数字") % {"question": attr.get("description") or code},
                    details={f"attribute[{code}]": values[0]},
                ) from None
            shown = values[0]
        else:
            shown = values[0][:500]
        lines.append((str(attr.get("description") or code), shown))
    return lines


def _filer_extras(user: User | None) -> tuple[str, str]:
    """(channel, company) for a signed-in filer; mobile reporters show their company."""
    if user is None:
        return Channel.RESIDENT, ""
    profile = MobileReporterProfile.objects.filter(user=user).first()
    roles = {m.role for m in memberships_of(user)}
    if Role.MOBILE_REPORTER in roles and Role.GRID_WORKER not in roles:
        return Channel.MOBILE_REPORTER, profile.company if profile else ""
    return "", ""


def submit_report(
    data: ReportInput,
    *,
    user: User | None,
    ip: str,
    files: Sequence[tuple[str, bytes]] = (),
    source: str = Source.WEB,
    api_key: Open311Key | None = None,
    device_id: str = "",
    account_ref: str = "",
    email: str = "",
    media_url: str = "",
) -> Filed:
    """Files one report from the public page (or Open311); retry-safe by its idempotency key.

    Order: honeypot, block list, replay (same key and body → the same case; another body → 409),
    rate limits, validation and photos (nothing saved on any error), then the case, its photos, the
    submission row and the reporter's tracking ticket in one transaction.
    """
    if data.honeypot:
        raise Honeypot(_("提交失败，请刷新页面后重试"))
    user = user if user is not None and getattr(user, "is_authenticated", False) else None
    phone = "".join((data.phone or "").split())
    limits.check_blocked(ip=ip, phone=phone)
    key = (data.idempotency_key or "").strip()
    if len(key) > 100:
        raise InvalidInput(_("提交编号过长"), details={"idempotency_key": "≤ 100"})
    scope = f"u{user.pk}" if user is not None else (f"k{api_key.pk}" if api_key else "anon")
    digest = request_digest(data, files, {"source": source, "device_id": device_id})
    if key:
        found = _replay(scope, key, digest)
        if found is not None:
            return found
    if user is not None:
        limits.check_and_hit("submit_user", f"u{user.pk}")
    elif source == Source.WEB:
        limits.check_and_hit("submit_ip", ip)
    if phone:
        limits.check_and_hit("submit_phone", crypto.blind_index(phone))

    description = (data.description or "").strip()
    if not description:
        raise InvalidInput(_("请描述问题"), details={"description": "required"})
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInput(
            _("问题描述请勿超过 %(count)s 字") % {"count": MAX_DESCRIPTION},
            details={"description": "too long"},
        )
    category = public_category(data.category)
    answers = check_attributes(category, data.attributes)
    if answers:
        description += "\n\n" + "\n".join(f"【{q}】{a}" for q, a in answers)
    if data.anonymous and not category.anonymous_allowed:
        raise InvalidInput(
            _("该类事项不受理匿名反映，请留下姓名和电话"), details={"anonymous": "not allowed"}
        )
    if data.on_behalf:
        if user is None or not (
            {m.role for m in memberships_of(user)} & {Role.HOUSEHOLD_LEADER, Role.GRID_WORKER}
        ):
            raise Forbidden(_("只有联户长和网格员可以代他人反映"))
        if not (data.name.strip() and phone):
            raise InvalidInput(_("代他人反映时请填写对方的姓名和电话"), details={"phone": "required"})

    lat, lng, coord, location_source = data.lat, data.lng, data.coord, data.location_source
    if lat is None or lng is None:
        lat = lng = None
        point = point_for_address(data.address, data.community)
        if point is not None:
            lat, lng, coord, location_source = point[0], point[1], "wgs84", LocationSource.ADDRESS
        elif user is None or not any(m.unit.kind in _PLACED_KINDS for m in memberships_of(user)):
            raise InvalidInput(_("请在地图上选择位置，或选择所在社区"), details={"location": "required"})
        else:
            location_source = LocationSource.FILER
    prepared = prepare_photos(files)

    channel, company = _filer_extras(user)
    filer: User = user or web_account()
    if api_key is not None and api_key.gateway and api_key.filer is not None:
        filer, channel = api_key.filer, Channel.HOTLINE_12345
    first_line = description.splitlines()[0] if description else ""
    ticket_code: list[str] = []

    def record(case: Case) -> None:
        Submission.objects.create(
            case=case,
            source=source,
            filer=user,
            on_behalf=data.on_behalf,
            company=company,
            location_source=location_source or "",
            attributes=data.attributes,
            idem_scope=scope if key else "",
            idem_key=key,
            request_hash=digest,
            ip=ip or None,
            phone_index=crypto.blind_index(phone) if not data.anonymous else "",
            api_key=api_key,
            device_id=device_id[:100],
            account_ref=account_ref[:100],
            email_enc=crypto.encrypt(email) if not data.anonymous else "",
            media_url=media_url[:500],
            token=secrets.token_urlsafe(16) if source == Source.OPEN311 else "",
        )
        _, code = issue_ticket(
            case,
            kind=TicketKind.REPORTER,
            user=user if user is not None and not data.on_behalf else None,
            phone="" if data.anonymous else phone,
        )
        ticket_code.append(code)

    try:
        case = case_actions.file_report(
            by=filer,
            photos=prepared,
            on_created=record,
            description=description,
            title=first_line[:40],
            category=category,
            type=data.type if data.type in CaseType.values else CaseType.COMPLAINT,
            channel=channel or None,
            lat=lat,
            lng=lng,
            coord=coord if coord in ("wgs84", "gcj02") else "wgs84",
            address=(data.address or "").strip()[:200],
            reporter_name="" if data.anonymous else data.name.strip()[:50],
            reporter_phone="" if data.anonymous else phone,
            anonymous=data.anonymous,
        )
    except IntegrityError:
        # A concurrent retry with the same key got there first: answer as its replay once it is
        # visible (PostgreSQL raises only after the other commit; shared-cache SQLite may raise before).
        if not key:
            raise
        for attempt in range(_RACE_ATTEMPTS):
            found = _replay(scope, key, digest)
            if found is not None:
                return found
            time.sleep(0.05 * (attempt + 1))
        raise
    return Filed(case, ticket_code[0] if ticket_code else reporter_code(case))
