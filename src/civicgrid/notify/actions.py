"""Writing notifications into the outbox, delivering them, and marking them read.

`notify` runs inside the transaction of the step that causes it: the inbox rows and the outbox rows
commit or roll back with that step. Delivery happens only after commit and outside any transaction.

Claiming: a worker reads due rows, then claims each one with a conditional UPDATE that matches the
`attempts` value it read (the row's version) and bumps it, setting a lease (`locked_until`). Of two
workers that read the same row only one UPDATE matches, on SQLite and PostgreSQL alike, and no lock
is held while the network call runs. A worker that dies mid-send leaves a lease that expires; the row
is then due again (delivery is at least once, never lost).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from civicgrid.core import rows as core_rows
from civicgrid.core.crypto import is_phone, plain_phone
from civicgrid.notify.channels import get_channel, setting
from civicgrid.notify.masking import mask_phone, scrub
from civicgrid.notify.models import Channel, Notification, OutboxMessage, OutboxStatus
from civicgrid.people.models import NoticeChoice, User, site_default

logger = logging.getLogger("civicgrid.notify")

USER_CHANNELS = {Channel.INAPP, Channel.EMAIL, Channel.SMS}
TITLE_MAX = Notification._meta.get_field("title").max_length or 200
SUBJECT_REF_MAX = Notification._meta.get_field("subject_ref").max_length or 60


@dataclass
class Notified:
    """What `notify` wrote: the inbox rows and the outbox rows (one per address and channel)."""

    notifications: list[Notification] = field(default_factory=list)
    messages: list[OutboxMessage] = field(default_factory=list)


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0

    @property
    def attempted(self) -> int:
        return self.sent + self.retrying + self.failed


# --- settings ------------------------------------------------------------------------------------


def max_attempts() -> int:
    return int(setting("CIVICGRID_NOTIFY_MAX_ATTEMPTS", 10))


def lease() -> timedelta:
    return timedelta(seconds=int(setting("CIVICGRID_NOTIFY_LEASE_SECONDS", 300)))


def backoff(attempts: int) -> timedelta:
    """The wait after the n-th failed attempt: base, 2×base, 4×base … capped (1, 2, 4 … 60 minutes)."""
    base = int(setting("CIVICGRID_NOTIFY_RETRY_BASE_SECONDS", 60))
    cap = int(setting("CIVICGRID_NOTIFY_RETRY_MAX_SECONDS", 3600))
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), cap))


# --- writing -------------------------------------------------------------------------------------


def _check_link(link: str) -> str:
    # Rendered as href in the inbox and in mails: only site paths and web addresses.
    if link and not (
        (link.startswith("/") and not link.startswith("//")) or link.startswith(("http://", "https://"))
    ):
        raise ValueError(f"link must be a site path or an http(s) URL, not {link[:40]!r}")
    return link


def _clean_phone(phone: str) -> str | None:
    value = plain_phone(phone)
    if not is_phone(value):
        logger.warning("notify: skipped an invalid phone number %s", mask_phone(value))
        return None
    return value


def _phone_of(user: Any) -> str:
    # people.User.phone decrypts the staff member's mobile; other recipients may carry none.
    return str(getattr(user, "phone", "") or "")


def _clean_email(address: str) -> str | None:
    value = (address or "").strip()
    try:
        validate_email(value)
    except ValidationError:
        logger.warning("notify: skipped an invalid e-mail address")
        return None
    return value


def channels_for(user: User, *, urgent: bool) -> set[str]:
    """The channels a notice reaches an account on: the inbox always, SMS and e-mail as the account
    chose (people.User.sms_notices, email_notices) or, where it keeps the default, as the site says
    for such a notice (people.models.site_default)."""
    wanted: set[str] = {Channel.INAPP}
    for channel, choice in ((Channel.SMS, user.sms_notices), (Channel.EMAIL, user.email_notices)):
        reach = choice or site_default(channel)
        if reach == NoticeChoice.ALL or (reach == NoticeChoice.URGENT and urgent):
            wanted.add(channel)
    return wanted


def prepare(
    recipients: Iterable[User],
    *,
    title: str,
    body: str = "",
    link: str = "",
    subject_ref: str = "",
    urgent: bool = False,
    channels: Iterable[str] | None = None,
    phones: Iterable[str] = (),
    emails: Iterable[str] = (),
    wecom: Iterable[str] = (),
) -> Notified:
    """The rows of a notification, not yet written: `notify` writes them, or a caller that writes
    other rows in the same statement (a case step: cases.actions._common.write_step) writes them and
    then calls `deliver_after_commit`. Call it inside the transaction of the step that causes it.

    `recipients` are users, each reached on the channels of `channels_for` (for an `urgent` notice,
    those the account or the site chose for urgent ones), or on `channels` when the caller names
    them: "inapp" writes an inbox row, "email" uses the user's e-mail, "sms" the user's mobile when
    there is one. `phones`, `emails` and `wecom` (robot names or keys) reach addresses without an
    account, such as a resident's phone or a unit's WeChat Work group.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("notify must be called inside the transaction of the step that causes it")
    title = title.strip().replace("\n", " ")
    if not title:
        raise ValueError("a notification needs a title")
    if len(title) > TITLE_MAX:
        title = title[: TITLE_MAX - 1] + "…"
    _check_link(link)
    if len(subject_ref) > SUBJECT_REF_MAX:
        raise ValueError(f"subject_ref is at most {SUBJECT_REF_MAX} characters")
    named = None if channels is None else ({channels} if isinstance(channels, str) else set(channels))
    unknown = (named or set()) - set(USER_CHANNELS)
    if unknown:
        raise ValueError(
            f"users are reached on {sorted(USER_CHANNELS)}; pass wecom= for groups, not {unknown}"
        )

    now = timezone.now()
    payload: dict[str, Any] = {"title": title, "body": body, "link": link, "subject_ref": subject_ref}
    result = Notified()
    messages: list[OutboxMessage] = []
    seen: set[tuple[str, str]] = set()

    def queue(channel: str, address: str | None) -> None:
        if address and (channel, address) not in seen:
            seen.add((channel, address))
            messages.append(
                OutboxMessage(
                    channel=channel,
                    address=address,
                    payload=payload,
                    subject_ref=subject_ref,
                    next_attempt_at=now,
                    created_at=now,
                )
            )

    for user in {u.pk: u for u in recipients if u.is_active}.values():
        wanted = named if named is not None else channels_for(user, urgent=urgent)
        if Channel.INAPP in wanted:
            # The inbox row is the in-app delivery: no outbox row, no task, nothing to retry.
            result.notifications.append(
                Notification(
                    recipient=user, title=title, body=body, link=link, subject_ref=subject_ref, created_at=now
                )
            )
        if Channel.EMAIL in wanted and user.email:
            queue(Channel.EMAIL, _clean_email(user.email))
        if Channel.SMS in wanted and _phone_of(user):
            queue(Channel.SMS, _clean_phone(_phone_of(user)))
    for address in emails:
        queue(Channel.EMAIL, _clean_email(address))
    for phone in phones:
        queue(Channel.SMS, _clean_phone(phone))
    for robot in wecom:
        queue(Channel.WECOM, (robot or "").strip())

    result.messages = messages
    return result


def notify(recipients: Iterable[User], **options: Any) -> Notified:
    """Queues a notification (`options` and who is reached how: `prepare`): writes its inbox and
    outbox rows in the caller's transaction, each kind in one statement (core.rows); delivery starts
    after commit, and nothing is sent if the transaction rolls back."""
    result = prepare(recipients, **options)
    core_rows.insert_many(result.notifications)
    core_rows.insert_many(result.messages)
    deliver_after_commit(result)
    return result


def deliver_after_commit(written: Notified) -> None:
    """Starts delivering the outbox rows once the transaction that wrote them commits."""
    ids = [m.pk for m in written.messages]
    if ids:
        transaction.on_commit(partial(_after_commit, ids), robust=True)


def _after_commit(ids: list[int]) -> None:
    """Starts delivery once the step has committed, as CIVICGRID_NOTIFY_ON_COMMIT says.

    "send": right here, in the committing process (no worker needed; a slow channel slows the
    request by at most the HTTP timeout per message). "enqueue": a django-tasks task for the worker.
    "none": the worker's periodic job finds the rows (within about ten seconds).
    Whatever happens here, the rows are committed and the periodic job retries them.
    """
    mode = setting("CIVICGRID_NOTIFY_ON_COMMIT", "send")
    try:
        if mode == "send":
            deliver_messages(ids)
        elif mode == "enqueue":
            from civicgrid.notify.tasks import deliver_messages_task

            deliver_messages_task.enqueue(ids)
    except Exception:  # the step has committed; the worker will pick the rows up
        logger.exception("notify: delivery after commit failed; the outbox keeps the messages")


# --- delivering ----------------------------------------------------------------------------------


def _due(now: datetime) -> QuerySet[OutboxMessage]:
    return OutboxMessage.objects.filter(status=OutboxStatus.PENDING, next_attempt_at__lte=now).filter(
        Q(locked_until__isnull=True) | Q(locked_until__lte=now)
    )


def _claim(pk: int, seen_attempts: int) -> OutboxMessage | None:
    """Takes one due row for this worker, or None when another worker was first."""
    now = timezone.now()
    # Durable: a claim is its own committed transaction, never part of a caller's (which would
    # also mean sending from inside it).
    with transaction.atomic(durable=True):
        won = (
            _due(now)
            .filter(pk=pk, attempts=seen_attempts)
            .update(attempts=seen_attempts + 1, locked_until=now + lease())
        )
    if not won:
        return None
    return OutboxMessage.objects.filter(pk=pk).first()


def _send(message: OutboxMessage, report: DeliveryReport) -> None:
    """Sends one claimed message (no transaction is open here) and records the outcome."""
    claimed = message.attempts
    try:
        get_channel(message.channel).send(message)
    except Exception as exc:
        error = scrub(f"{exc.__class__.__name__}: {exc}")[:1000]
        now = timezone.now()
        mine = OutboxMessage.objects.filter(pk=message.pk, status=OutboxStatus.PENDING, attempts=claimed)
        if claimed >= max_attempts():
            mine.update(status=OutboxStatus.FAILED, locked_until=None, last_error=error)
            report.failed += 1
            logger.error("notify: %s failed after %s attempts: %s", message, claimed, error)
        else:
            wait = backoff(claimed)
            mine.update(next_attempt_at=now + wait, locked_until=None, last_error=error)
            report.retrying += 1
            logger.warning(
                "notify: %s attempt %s failed, retry in %ss: %s",
                message,
                claimed,
                int(wait.total_seconds()),
                error,
            )
        return
    updated = OutboxMessage.objects.filter(
        pk=message.pk, status=OutboxStatus.PENDING, attempts=claimed
    ).update(status=OutboxStatus.SENT, sent_at=timezone.now(), locked_until=None, last_error="")
    report.sent += 1
    if not updated:
        logger.warning("notify: %s was sent after its lease ran out; it may go out twice", message)


def _deliver(candidates: Iterable[tuple[int, int]]) -> DeliveryReport:
    report = DeliveryReport()
    for pk, attempts in candidates:
        message = _claim(pk, attempts)
        if message is not None:
            _send(message, report)
    return report


def deliver_due_report(limit: int = 100) -> DeliveryReport:
    """Claims and sends up to `limit` due messages; several workers may run this at once."""
    now = timezone.now()
    candidates = list(_due(now).order_by("next_attempt_at", "id").values_list("id", "attempts")[:limit])
    return _deliver(candidates)


def deliver_due(limit: int = 100) -> int:
    """Claims and sends up to `limit` due messages; returns how many it attempted."""
    return deliver_due_report(limit).attempted


def deliver_messages(ids: Iterable[int]) -> DeliveryReport:
    """Sends the given messages now if they are still due (used right after commit)."""
    now = timezone.now()
    candidates = list(_due(now).filter(pk__in=list(ids)).order_by("id").values_list("id", "attempts"))
    return _deliver(candidates)


def retry_now(ids: Iterable[int]) -> int:
    """Makes pending and failed messages due at once (one more attempt each); skips ones in flight."""
    now = timezone.now()
    return (
        OutboxMessage.objects.filter(pk__in=list(ids), status__in=[OutboxStatus.PENDING, OutboxStatus.FAILED])
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
        .update(status=OutboxStatus.PENDING, next_attempt_at=now, locked_until=None)
    )


# --- reading -------------------------------------------------------------------------------------


def mark_read(user: User, ids: Iterable[int] | Literal["all"]) -> int:
    """Marks the user's own notifications read (the given ids, or "all"); returns how many changed."""
    rows = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids != "all":
        rows = rows.filter(pk__in=[int(i) for i in ids])
    return rows.update(read_at=timezone.now())
