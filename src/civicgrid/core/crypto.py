"""Personal data at rest: AES-GCM encryption, an HMAC blind index for exact look-ups, and masking.

Keys derive from CIVICGRID_DATA_KEY (falling back to SECRET_KEY for local use) so that a database dump
alone reveals no identity or phone number.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

_VERSION = b"\x01"


@lru_cache(maxsize=4)
def _keys(secret: str) -> tuple[bytes, bytes]:
    master = hashlib.sha512(("civicgrid-data:" + secret).encode()).digest()
    return master[:32], master[32:]


def _current_keys() -> tuple[bytes, bytes]:
    return _keys(getattr(settings, "CIVICGRID_DATA_KEY", "") or settings.SECRET_KEY)


def encrypt(plain: str) -> str:
    """Text → "v1" token (base64 of version, nonce, ciphertext); "" stays ""."""
    if not plain:
        return ""
    nonce = os.urandom(12)
    sealed = AESGCM(_current_keys()[0]).encrypt(nonce, plain.encode(), None)
    return base64.urlsafe_b64encode(_VERSION + nonce + sealed).decode()


def decrypt(token: str) -> str:
    if not token:
        return ""
    raw = base64.urlsafe_b64decode(token.encode())
    if raw[:1] != _VERSION:
        raise ValueError("unknown encryption version")
    return AESGCM(_current_keys()[0]).decrypt(raw[1:13], raw[13:], None).decode()


def blind_index(value: str) -> str:
    """A keyed hash of the normalised value: equal values match without storing the value."""
    if not value:
        return ""
    normal = "".join(value.split()).upper()
    return hmac.new(_current_keys()[1], normal.encode(), hashlib.sha256).hexdigest()


_PHONE = re.compile(r"^\+?\d{5,20}$")


def plain_phone(value: str) -> str:
    """The number as a gateway takes it: without spaces, brackets and dashes ("139 1234-5678")."""
    return re.sub(r"[\s()-]", "", value or "")


def is_phone(value: str) -> bool:
    """A phone number an SMS gateway can take: digits (5 to 20), an optional leading +."""
    return bool(_PHONE.match(value))


def mask_phone(phone: str) -> str:
    """13812345678 → 138****5678."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"


def mask_id_number(number: str) -> str:
    """520222199001011234 → 520222********1234."""
    number = number.strip()
    if len(number) < 10:
        return "*" * len(number)
    return f"{number[:6]}{'*' * (len(number) - 10)}{number[-4:]}"


def mask_name(name: str) -> str:
    """张三丰 → 张**."""
    name = name.strip()
    return name[:1] + "*" * (len(name) - 1) if name else ""
