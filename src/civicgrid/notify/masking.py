"""Phone numbers and robot keys are never shown or logged in full: 13812345678 → 138****5678."""

from __future__ import annotations

import re

from django.conf import settings

from civicgrid.core.crypto import mask_phone

# Any run of seven or more digits (optionally after "+") may be a phone number.
_PHONE_LIKE = re.compile(r"(?<![\d+])\+?\d{7,}(?!\d)")


def mask_secret(value: str) -> str:
    """A credential (a WeCom robot key): its first four characters only."""
    return f"{value[:4]}…" if len(value) > 4 else "****"


def mask_address(channel: str, address: str) -> str:
    if channel == "sms":
        return mask_phone(address)
    if channel == "wecom":
        robots = getattr(settings, "CIVICGRID_WECOM_ROBOTS", {}) or {}
        return address if address in robots else mask_secret(address)
    return address


def scrub(text: str) -> str:
    """Masks anything that looks like a phone number inside free text (errors, gateway replies)."""
    return _PHONE_LIKE.sub(lambda m: mask_phone(m.group(0)), text)
