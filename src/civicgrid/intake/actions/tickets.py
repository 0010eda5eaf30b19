"""Tracking tickets: the code a resident keeps to follow and rate a report without an account."""

from __future__ import annotations

import hashlib
import secrets

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from civicgrid.cases.models import Case
from civicgrid.core import crypto
from civicgrid.core.errors import InvalidInput, NotFound
from civicgrid.intake import limits
from civicgrid.intake.models import (
    Ticket,
    TicketKind,
)
from civicgrid.people.models import User

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L
CODE_LENGTH = 10


def normalise_code(code: str) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def code_digest(code: str) -> str:
    return hashlib.sha256(("civicgrid-ticket:" + normalise_code(code)).encode()).hexdigest()


def format_code(code: str) -> str:
    code = normalise_code(code)
    return f"{code[:5]}-{code[5:]}" if len(code) == CODE_LENGTH else code


def issue_ticket(case: Case, *, kind: str, user: User | None = None, phone: str = "") -> tuple[Ticket, str]:
    """A new tracking code for the case; returns the row and the code (shown once, kept encrypted)."""
    phone = "".join((phone or "").split())
    if phone and not (phone.lstrip("+").replace("-", "").isdigit() and 5 <= len(phone) <= 20):
        raise InvalidInput(_("联系电话格式不正确"), details={"phone": "invalid"})
    for _attempt in range(5):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        try:
            with transaction.atomic():
                ticket = Ticket.objects.create(
                    case=case,
                    kind=kind,
                    code_digest=code_digest(code),
                    code_enc=crypto.encrypt(code),
                    user=user if user is not None and user.pk and user.is_active else None,
                    phone_enc=crypto.encrypt(phone),
                    phone_index=crypto.blind_index(phone),
                )
            return ticket, format_code(code)
        except IntegrityError:
            continue
    raise RuntimeError("could not draw a unique tracking code")


def _last4(phone: str) -> str:
    digits = "".join(ch for ch in phone if ch.isdigit())
    return digits[-4:]


def verify_ticket(code: str, phone_digits: str, *, ip: str) -> Ticket:
    """The ticket for a code and the phone's last four digits; NotFound for any mismatch.

    Failures count per address and per code (RateLimited past the limits); a success clears the code's.
    """
    code = normalise_code(code)
    limits.check_only("follow_ip", ip)
    if code:
        limits.check_only("follow_code", code_digest(code))
    ticket = (
        Ticket.objects.select_related("case").filter(code_digest=code_digest(code)).first() if code else None
    )
    ok = False
    if ticket is not None:
        phone = crypto.decrypt(ticket.phone_enc) if ticket.phone_enc else ""
        if not phone and ticket.kind == TicketKind.REPORTER and not ticket.case.anonymous:
            phone = crypto.decrypt(ticket.case.reporter_phone_enc)
        wanted = _last4(phone)
        given = "".join(ch for ch in (phone_digits or "") if ch.isdigit())
        ok = secrets.compare_digest(wanted, given) if wanted else True
    if not ok:
        limits.hit("follow_ip", ip)
        if code:
            limits.hit("follow_code", code_digest(code))
        raise NotFound(_("查询码或手机号后四位不正确"))
    limits.reset("follow_code", code_digest(code))
    assert ticket is not None
    return ticket


def reporter_code(case: Case) -> str:
    ticket = Ticket.objects.filter(case=case, kind=TicketKind.REPORTER).order_by("id").first()
    return format_code(crypto.decrypt(ticket.code_enc)) if ticket and ticket.code_enc else ""
