"""The channels behind one interface: in-app, e-mail, WeChat Work group robot and SMS.

A channel's `send` does the network I/O for one outbox message and raises `DeliveryError` when the
message did not go out; the outbox then retries it later. Channels never touch the database.
"""

from __future__ import annotations

import json
import logging
import smtplib
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.core.mail import send_mail
from django.utils.module_loading import import_string

from civicgrid.notify.masking import mask_phone, scrub
from civicgrid.notify.models import OutboxMessage

logger = logging.getLogger("civicgrid.notify")

WECOM_WEBHOOK_URL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
# WeChat Work caps the content of a robot message: text 2048 bytes, markdown 4096 bytes (UTF-8).
WECOM_LIMITS = {"text": 2048, "markdown": 4096}
SMS_MAX_CHARS = 300
MAX_REPLY_BYTES = 64 * 1024


class DeliveryError(Exception):
    """The message did not go out; the outbox will try again later."""


def setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def http_timeout() -> float:
    return float(setting("CIVICGRID_NOTIFY_HTTP_TIMEOUT", 5))


def absolute_link(link: str) -> str:
    """A link that works outside the site (mail, chat, SMS); "" when no site address is configured."""
    if not link or link.startswith(("http://", "https://")):
        return link
    site = str(setting("CIVICGRID_SITE_URL", "") or "").rstrip("/")
    return f"{site}{link}" if site else ""


def truncate_bytes(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", errors="ignore") + "…"


def post_json(url: str, body: dict[str, Any], *, headers: dict[str, str] | None = None) -> Any:
    """POSTs JSON and returns the decoded JSON answer (None when the answer is empty).

    Error messages never repeat the URL: a WeCom URL carries the robot's key.
    """
    if urlsplit(url).scheme not in {"http", "https"}:
        raise DeliveryError("只支持 http/https 地址")
    request = urllib.request.Request(
        url,
        data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=http_timeout()) as response:  # scheme checked above
            raw = response.read(MAX_REPLY_BYTES)
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise DeliveryError(f"连接失败: {exc.reason}") from exc
    except OSError as exc:  # timeouts, resets
        raise DeliveryError(f"连接失败: {exc.__class__.__name__} {exc}") from exc
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise DeliveryError(f"应答不是 JSON: {scrub(raw[:200].decode('utf-8', errors='replace'))}") from exc


class Channel(ABC):
    """One way out. Subclasses set `name` and implement `send`."""

    name: str = ""

    @abstractmethod
    def send(self, message: OutboxMessage) -> None:
        """Carries the message, or raises DeliveryError so that the outbox retries it."""


class InAppChannel(Channel):
    """The Notification row is the delivery; notify queues no in-app rows, this drains older ones."""

    name = "inapp"

    def send(self, message: OutboxMessage) -> None:
        return None


class EmailChannel(Channel):
    name = "email"

    def send(self, message: OutboxMessage) -> None:
        payload = message.payload
        prefix = setting("CIVICGRID_NOTIFY_EMAIL_SUBJECT_PREFIX", "[Civic Grid] ")
        lines = [payload.get("body", "")]
        link = absolute_link(payload.get("link", ""))
        if link:
            lines += ["", f"查看详情: {link}"]
        try:
            send_mail(
                subject=f"{prefix}{payload.get('title', '')}".replace("\n", " "),
                message="\n".join(lines),
                from_email=None,
                recipient_list=[message.address],
                fail_silently=False,
            )
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"邮件发送失败: {exc.__class__.__name__} {exc}") from exc


def wecom_body(payload: dict[str, Any], msgtype: str) -> dict[str, Any]:
    """The robot message as documented by WeChat Work: {"msgtype": …, "<msgtype>": {"content": …}}."""
    title, body = payload.get("title", ""), payload.get("body", "")
    link = absolute_link(payload.get("link", ""))
    ref = payload.get("subject_ref", "")
    if msgtype == "markdown":
        lines = [f"**{title}**"]
        if ref:
            lines.append(f'<font color="comment">{ref}</font>')
        if body:
            lines.append(f"> {body}".replace("\n", "\n> "))
        if link:
            lines.append(f"[查看详情]({link})")
    else:
        msgtype = "text"
        lines = [f"{title}（{ref}）" if ref else title]
        if body:
            lines.append(body)
        if link:
            lines.append(link)
    content = truncate_bytes("\n".join(lines), WECOM_LIMITS[msgtype])
    return {"msgtype": msgtype, msgtype: {"content": content}}


class WeComChannel(Channel):
    """企业微信群机器人: the address is a robot name from CIVICGRID_WECOM_ROBOTS or a robot key."""

    name = "wecom"

    def send(self, message: OutboxMessage) -> None:
        robots = setting("CIVICGRID_WECOM_ROBOTS", {}) or {}
        key = robots.get(message.address, message.address)
        base = str(setting("CIVICGRID_WECOM_WEBHOOK_URL", WECOM_WEBHOOK_URL) or WECOM_WEBHOOK_URL)
        url = f"{base}{'&' if '?' in base else '?'}{urlencode({'key': key})}"
        msgtype = setting("CIVICGRID_WECOM_MSGTYPE", "markdown")
        answer = post_json(url, wecom_body(message.payload, msgtype))
        if not isinstance(answer, dict) or answer.get("errcode") != 0:
            errcode = answer.get("errcode") if isinstance(answer, dict) else None
            errmsg = answer.get("errmsg", "") if isinstance(answer, dict) else ""
            # e.g. 45009 (rate limit: 20 messages a minute per robot), 93000 (invalid key)
            raise DeliveryError(f"企业微信 errcode={errcode} errmsg={scrub(str(errmsg))[:200]}")


@runtime_checkable
class SmsGateway(Protocol):
    """Sends one text to one phone number; raises DeliveryError when the gateway refuses."""

    def send(self, phone: str, text: str) -> None: ...


class ConsoleSmsGateway:
    """For development: writes the text to the log, with the phone number masked."""

    def send(self, phone: str, text: str) -> None:
        logger.info("SMS to %s: %s", mask_phone(phone), scrub(text))


class HttpSmsGateway:
    """An SMS gateway reached over HTTP (a provider or the intranet's SMS platform).

    POSTs {"phone": …, "text": …} as JSON to CIVICGRID_SMS_GATEWAY_URL, with
    `Authorization: Bearer CIVICGRID_SMS_GATEWAY_TOKEN` when a token is set. A 2xx answer is success
    unless its JSON says {"ok": false} or carries a non-zero "errcode"/"code".
    """

    def __init__(self, url: str | None = None, token: str | None = None):
        self.url = url if url is not None else str(setting("CIVICGRID_SMS_GATEWAY_URL", "") or "")
        self.token = token if token is not None else str(setting("CIVICGRID_SMS_GATEWAY_TOKEN", "") or "")

    def send(self, phone: str, text: str) -> None:
        if not self.url:
            raise DeliveryError("未配置短信网关地址 CIVICGRID_SMS_GATEWAY_URL")
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        answer = post_json(self.url, {"phone": phone, "text": text}, headers=headers)
        if isinstance(answer, dict):
            code = answer.get("errcode", answer.get("code", 0))
            if answer.get("ok") is False or code not in (0, "0", None):
                detail = answer.get("errmsg") or answer.get("message") or ""
                raise DeliveryError(f"短信网关拒绝: code={code} {scrub(str(detail))[:200]}")


def sms_gateway() -> SmsGateway:
    path = setting("CIVICGRID_SMS_BACKEND", "civicgrid.notify.channels.ConsoleSmsGateway")
    return import_string(path)()


def sms_text(payload: dict[str, Any]) -> str:
    title, body = payload.get("title", ""), payload.get("body", "")
    text = f"{title}：{body}" if body else title
    link = absolute_link(payload.get("link", ""))
    if len(text) > SMS_MAX_CHARS:
        text = text[: SMS_MAX_CHARS - 1] + "…"
    return f"{text} {link}" if link else text


class SmsChannel(Channel):
    name = "sms"

    def send(self, message: OutboxMessage) -> None:
        sms_gateway().send(message.address, sms_text(message.payload))


CHANNELS: dict[str, type[Channel]] = {
    "inapp": InAppChannel,
    "email": EmailChannel,
    "wecom": WeComChannel,
    "sms": SmsChannel,
}


def get_channel(name: str) -> Channel:
    """The channel for a name; CIVICGRID_NOTIFY_CHANNELS may replace one by a dotted path."""
    override = (setting("CIVICGRID_NOTIFY_CHANNELS", {}) or {}).get(name)
    if override:
        return import_string(override)()
    try:
        return CHANNELS[name]()
    except KeyError as exc:
        raise DeliveryError(f"未知渠道 {name}") from exc
