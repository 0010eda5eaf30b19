"""Uploaded files (case photos) are private: served only through links signed for a limited time.

A photo can show a resident's face, a house number or a car's plate. Its URL used to be the file's
path under /media/, which the web server published: whoever had the link (a forwarded chat, a
browser history, a log) could fetch it forever. Now the storage hands out
`/photos/<name>?e=<expires>&s=<signature>`, and only to code that has already read the case through
a scoped read (the API, the desk, a resident's own pages, Open311's public list); `serve` checks the
signature and the time, and never reads the database.

Why signed links and not a scope check per file: an <img> in a page, a mobile app's image loader and
Open311's `media_url` fetch a photo by its URL alone, without the caller's session or Bearer token.

A link is valid until the end of the hour after the one it was made in (one to two hours): within
an hour every read hands out the same link, so browsers cache the file and a step's reply equals a
later read of the case. Rotating SECRET_KEY (with the old key in SECRET_KEY_FALLBACKS) keeps links
working until they expire.
"""

from __future__ import annotations

import mimetypes
import re
import time
from pathlib import Path

from django.conf import settings
from django.core import signing
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import FileSystemStorage, default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.utils.encoding import filepath_to_uri
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

SALT = "civicgrid.media"
HOUR = 3600
# Not MEDIA_URL: an nginx that still publishes /media/ (as this project once advised) would answer the
# old unsigned paths there; signed links under another prefix always reach the check.
PREFIX = "/photos/"
_EXPIRES = re.compile(r"[0-9]{1,12}")  # ASCII digits only: int() reads "²" and other digits too


def _signer() -> signing.Signer:
    return signing.Signer(salt=SALT)


def _value(name: str, expires: int) -> str:
    return f"{name}|{expires}"


def signed_url(name: str, now: float | None = None) -> str:
    """The link to an uploaded file, valid until the end of the next hour."""
    expires = (int(time.time() if now is None else now) // HOUR + 2) * HOUR
    signature = _signer().signature(_value(name, expires))
    return f"{PREFIX}{filepath_to_uri(name)}?e={expires}&s={signature}"


class PrivateMediaStorage(FileSystemStorage):
    """MEDIA_ROOT on disk, with signed links instead of public paths."""

    def url(self, name: str | None) -> str:
        if not name:
            raise ValueError("This file is not accessible via a URL.")
        return signed_url(name.replace("\\", "/"))


class LinkExpired(Exception):
    pass


def check(name: str, expires: str, signature: str) -> None:
    """Raise Http404 for a link we did not sign (or signed for another file), LinkExpired for an old one."""
    if not _EXPIRES.fullmatch(expires) or not signature:
        raise Http404
    signer = _signer()
    try:
        signer.unsign(f"{_value(name, int(expires))}{signer.sep}{signature}")
    except signing.BadSignature:
        raise Http404 from None
    if int(expires) <= time.time():
        raise LinkExpired


@require_safe
def serve(request: HttpRequest, name: str) -> HttpResponseBase:
    try:
        check(name, request.GET.get("e", ""), request.GET.get("s", ""))
    except LinkExpired:
        return HttpResponse(
            _("照片链接已过期，请重新打开工单。"), status=403, content_type="text/plain; charset=utf-8"
        )
    try:
        path = Path(default_storage.path(name))
    except SuspiciousFileOperation:
        raise Http404 from None
    if not path.is_file():
        raise Http404
    accel = settings.CIVICGRID_MEDIA_ACCEL_REDIRECT
    response: HttpResponseBase
    if accel:
        # nginx sends the file from an `internal` location; Django only decided that it may.
        response = HttpResponse(content_type=mimetypes.guess_type(name)[0] or "application/octet-stream")
        response["X-Accel-Redirect"] = f"{accel.rstrip('/')}/{filepath_to_uri(name)}"
    else:
        response = FileResponse(path.open("rb"))
    left = max(0, int(request.GET["e"]) - int(time.time()))
    response["Cache-Control"] = f"private, max-age={left}"
    return response
