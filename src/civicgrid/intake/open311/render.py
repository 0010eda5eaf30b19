"""Open311 output: one data shape rendered as XML (the required format) or JSON (Spark convention).

Lists are written in XML as a wrapper element holding one element per item (services/service,
service_requests/request, errors/error …); JSON gets the list itself, as the standard's examples do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from django.http import HttpResponse
from django.utils import timezone

from civicgrid.core.text import xml_safe

# XML element name of the items of each list.
ITEM = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}
FORMATS = ("xml", "json")
CONTENT_TYPES = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}


def w3c(value: datetime | None) -> str | None:
    """A W3C datetime with the time zone offset (2026-05-01T09:30:00+08:00)."""
    if value is None:
        return None
    return timezone.localtime(value).isoformat(timespec="seconds")


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(xml_safe(str(value)))


def _xml(name: str, value: Any, out: list[str]) -> None:
    if isinstance(value, list):
        out.append(f"<{name}>")
        item = ITEM.get(name, "item")
        for entry in value:
            _xml(item, entry, out)
        out.append(f"</{name}>")
    elif isinstance(value, dict):
        out.append(f"<{name}>")
        for key, entry in value.items():
            _xml(key, entry, out)
        out.append(f"</{name}>")
    elif value is None or value == "":
        out.append(f"<{name}/>")
    else:
        out.append(f"<{name}>{_scalar(value)}</{name}>")


def to_xml(root: str, value: Any) -> str:
    out = ['<?xml version="1.0" encoding="utf-8"?>']
    _xml(root, value, out)
    return "".join(out)


def respond(fmt: str, root: str, value: Any, status: int = 200) -> HttpResponse:
    """`root` names the XML root (services, service_requests, service_definition, discovery, errors)."""
    import json

    if fmt == "json":
        body = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    else:
        body = to_xml(root, value)
    response = HttpResponse(
        body.encode("utf-8"), status=status, content_type=CONTENT_TYPES.get(fmt, CONTENT_TYPES["xml"])
    )
    response["Access-Control-Allow-Origin"] = "*"
    return response


def error(fmt: str, status: int, description: str) -> HttpResponse:
    """The standard's error list: <errors><error><code/><description/></error></errors> or JSON list."""
    return respond(
        fmt if fmt in FORMATS else "xml", "errors", [{"code": status, "description": description}], status
    )
