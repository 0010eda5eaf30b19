"""The working calendar: working hours and working days on the Chinese statutory calendar.

`WorkingCalendar` is pure (no database) so time logic is tested with a frozen clock and no database;
`calendar()` builds the installation's calendar from settings and `CalendarOverride` rows.
The counting rules are written out for operators in docs/time-limits.md; keep the two in step.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import math
import re
import threading
import time
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar

logger = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")

# The values of cases.models.LimitUnit, repeated here because core must not import a domain app.
CLOCK_HOURS = "clock_hours"
WORKING_HOURS = "working_hours"
WORKING_DAYS = "working_days"
UNITS = (CLOCK_HOURS, WORKING_HOURS, WORKING_DAYS)

# Integer microseconds throughout, so add_working_time and working_seconds_between are exact inverses.
_US = 1_000_000
_SPAN_RE = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")

Amount = int | float | Decimal


class WorkingHoursError(ValueError):
    """The working-hours configuration cannot be used."""


def parse_spans(text: str) -> tuple[tuple[dt.time, dt.time], ...]:
    """Parse "08:30-12:00,14:00-17:30" into ordered (start, end) pairs, or raise WorkingHoursError."""
    return tuple((_time(s), _time(e)) for s, e in _parse_spans_us(text))


def _parse_spans_us(spans: str | Sequence[tuple[dt.time, dt.time]]) -> tuple[tuple[int, int], ...]:
    if isinstance(spans, str):
        if not spans.strip():
            raise WorkingHoursError("working hours are empty; expected spans like '08:30-12:00,14:00-17:30'")
        pairs = []
        for part in spans.split(","):
            match = _SPAN_RE.match(part.replace(" ", ""))
            if not match:
                raise WorkingHoursError(
                    f"working hours {spans!r}: {part.strip()!r} is not HH:MM-HH:MM "
                    "(expected spans like '08:30-12:00,14:00-17:30')"
                )
            sh, sm, eh, em = (int(g) for g in match.groups())
            for h, m in ((sh, sm), (eh, em)):
                if h > 23 or m > 59:
                    raise WorkingHoursError(f"working hours {spans!r}: {h:02d}:{m:02d} is not a time of day")
            pairs.append((dt.time(sh, sm), dt.time(eh, em)))
        label = repr(spans)
    else:
        pairs = list(spans)
        label = repr([f"{s:%H:%M}-{e:%H:%M}" for s, e in pairs])
        if not pairs:
            raise WorkingHoursError("working hours are empty")
    result: list[tuple[int, int]] = []
    for start, end in pairs:
        s, e = _us_of_day(start), _us_of_day(end)
        if s >= e:
            raise WorkingHoursError(
                f"working hours {label}: span {start:%H:%M}-{end:%H:%M} does not end after it starts "
                "(spans cannot cross midnight; use clock_hours for round-the-clock limits)"
            )
        if result and s < result[-1][1]:
            raise WorkingHoursError(
                f"working hours {label}: span {start:%H:%M}-{end:%H:%M} overlaps or precedes the one "
                "before it (list spans in order of the day, without overlaps)"
            )
        result.append((s, e))
    return tuple(result)


def _us_of_day(t: dt.time | dt.datetime) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * _US + t.microsecond


def _time(us: int) -> dt.time:
    seconds, micro = divmod(us, _US)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return dt.time(hour, minute, second, micro)


def _to_us(amount: Amount | dt.timedelta, what: str) -> int:
    """Seconds (or a timedelta) as whole microseconds; limits are never negative."""
    if isinstance(amount, dt.timedelta):
        us = (amount.days * 86_400 + amount.seconds) * _US + amount.microseconds
    elif isinstance(amount, Decimal):
        if not amount.is_finite():
            raise ValueError(f"{what} must be a finite number, not {amount}")
        us = int((amount * _US).to_integral_value())
    elif isinstance(amount, int | float) and not isinstance(amount, bool):
        if not math.isfinite(amount):
            raise ValueError(f"{what} must be a finite number, not {amount}")
        us = round(amount * _US)
    else:
        raise TypeError(f"{what} must be a number, not {type(amount).__name__}")
    if us < 0:
        raise ValueError(f"{what} must not be negative, got {amount}")
    return us


@cache
def calendar_knows_year(year: int) -> bool:
    """Whether the installed chinese_calendar has the official holiday schedule for this year."""
    try:
        chinese_calendar.is_workday(dt.date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


_warned_years: set[int] = set()
_warned_lock = threading.Lock()


def _warn_unknown_year(year: int) -> None:
    # Once per year and process: a measures job touching the year 100,000 times must not flood the log.
    with _warned_lock:
        if year in _warned_years:
            return
        _warned_years.add(year)
    logger.warning(
        "Working calendar: chinese_calendar %s has no holiday data for %d and there are no calendar "
        "overrides for that year, so Monday to Friday count as working days. Enter %d's holidays and "
        "adjusted working days at /admin/core/calendaroverride/ or upgrade chinese_calendar.",
        getattr(chinese_calendar, "__version__", "?"),
        year,
        year,
    )


@dataclass(frozen=True, slots=True)
class _Table:
    """Per-day decisions for whole years: flags[i] is day `first + i`; cum[i] counts workdays before it."""

    first: int
    flags: bytes
    cum: list[int]

    @property
    def last(self) -> int:
        return self.first + len(self.flags) - 1

    def covers(self, first: int, last: int) -> bool:
        return bool(self.flags) and self.first <= first and last <= self.last


class WorkingCalendar:
    """Working periods of the day plus a working/rest decision for every date; needs no database."""

    def __init__(
        self,
        spans: str | Sequence[tuple[dt.time, dt.time]],
        overrides: Mapping[dt.date, bool] | None = None,
        *,
        tz: dt.tzinfo = SHANGHAI,
    ) -> None:
        self._spans = _parse_spans_us(spans)
        self._daily_us = sum(e - s for s, e in self._spans)
        self._overrides = {d: bool(v) for d, v in (overrides or {}).items()}
        self._override_years = frozenset(d.year for d in self._overrides)
        self.tz = tz
        self._years: dict[int, bytes] = {}
        self._table = _Table(first=0, flags=b"", cum=[0])
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<WorkingCalendar {self.spans_text} overrides={len(self._overrides)}>"

    @property
    def spans(self) -> tuple[tuple[dt.time, dt.time], ...]:
        return tuple((_time(s), _time(e)) for s, e in self._spans)

    @property
    def spans_text(self) -> str:
        return ",".join(f"{s:%H:%M}-{e:%H:%M}" for s, e in self.spans)

    @property
    def daily_seconds(self) -> int:
        """Working seconds in one working day (7 hours for the default spans)."""
        return self._daily_us // _US

    # Days

    def is_workday(self, day: dt.date) -> bool:
        """Override first, else chinese_calendar, else (unknown year) Monday to Friday."""
        if isinstance(day, dt.datetime):
            day = self._local(day).date()
        ordinal = day.toordinal()
        table = self._covering(ordinal, ordinal)
        return bool(table.flags[ordinal - table.first])

    def is_working_time(self, moment: dt.datetime) -> bool:
        """Whether `moment` falls inside a working period ([start, end)) of a working day."""
        local = self._local(moment)
        t = _us_of_day(local)
        return self.is_workday(local.date()) and any(s <= t < e for s, e in self._spans)

    def _year_flags(self, year: int) -> bytes:
        flags = self._years.get(year)
        if flags is not None:
            return flags
        known = calendar_knows_year(year)
        if not known and year not in self._override_years:
            _warn_unknown_year(year)
        first = dt.date(year, 1, 1)
        days = (dt.date(year + 1, 1, 1) - first).days if year < dt.MAXYEAR else 365
        out = bytearray(days)
        for i in range(days):
            day = first + dt.timedelta(days=i)
            override = self._overrides.get(day)
            if override is not None:
                out[i] = override
            elif known:
                out[i] = chinese_calendar.is_workday(day)
            else:
                out[i] = day.weekday() < 5
        flags = self._years[year] = bytes(out)
        return flags

    def _covering(self, first: int, last: int) -> _Table:
        """A table covering both ordinals. Tables are replaced, never changed, so readers need no lock."""
        table = self._table
        if table.covers(first, last):
            return table
        with self._lock:
            table = self._table
            if table.covers(first, last):
                return table
            lo = dt.date.fromordinal(first).year
            hi = dt.date.fromordinal(min(last, dt.date.max.toordinal())).year
            if table.flags:
                lo = min(lo, dt.date.fromordinal(table.first).year)
                hi = max(hi, dt.date.fromordinal(table.last).year)
            flags = b"".join(self._year_flags(year) for year in range(lo, hi + 1))
            table = _Table(
                first=dt.date(lo, 1, 1).toordinal(),
                flags=flags,
                cum=list(itertools.accumulate(flags, initial=0)),
            )
            self._table = table
            return table

    # Moments

    def _local(self, moment: dt.datetime) -> dt.datetime:
        if not isinstance(moment, dt.datetime):
            raise TypeError(f"expected a datetime, got {type(moment).__name__}")
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"naive datetime {moment.isoformat()}: time limits need aware datetimes")
        return moment.astimezone(self.tz)

    def _at(self, ordinal: int, us: int) -> dt.datetime:
        midnight = dt.datetime.fromordinal(ordinal).replace(tzinfo=self.tz)
        return midnight + dt.timedelta(microseconds=us)

    def _worked_before(self, t: int) -> int:
        """Working microseconds of a working day that lie before time of day `t`."""
        return sum(min(max(t - s, 0), e - s) for s, e in self._spans)

    def _time_after_working(self, amount: int) -> int:
        """The earliest time of day by which `amount` (0 < amount <= daily) of working time has passed."""
        for s, e in self._spans:
            if amount <= e - s:
                return s + amount
            amount -= e - s
        raise AssertionError("amount exceeds one working day")  # callers keep 0 < amount <= daily

    def _position(self, table: _Table, local: dt.datetime) -> int:
        """Working microseconds from the start of the table to `local`."""
        i = local.toordinal() - table.first
        worked = self._worked_before(_us_of_day(local)) if table.flags[i] else 0
        return table.cum[i] * self._daily_us + worked

    def _search_until(self, ordinal: int, working_days: int) -> int:
        # Calendar days that nearly always hold this many working days (7/5 plus holidays); callers
        # widen the search when overrides make a stretch of rest days longer.
        return ordinal + working_days * 2 + 40

    def _widen(self, ordinal: int, horizon: int) -> int:
        if horizon >= dt.date.max.toordinal():
            raise OverflowError("time limit ends after the year 9999")
        return ordinal + 2 * (horizon - ordinal)

    def add_working_time(self, start: dt.datetime, seconds: Amount | dt.timedelta) -> dt.datetime:
        """The earliest moment by which `seconds` of working time have passed since `start`."""
        amount = _to_us(seconds, "working time")
        local = self._local(start)
        if amount == 0:
            return local
        ordinal = local.toordinal()
        horizon = self._search_until(ordinal, amount // self._daily_us + 1)
        while True:
            table = self._covering(ordinal, horizon)
            target = self._position(table, local) + amount
            whole, rest = divmod(target, self._daily_us)
            # A target on a day boundary is reached at the end of that day's last working period.
            nth, rest = (whole, self._daily_us) if rest == 0 else (whole + 1, rest)
            k = bisect_left(table.cum, nth)
            if k < len(table.cum):
                return self._at(table.first + k - 1, self._time_after_working(rest))
            horizon = self._widen(ordinal, horizon)

    def add_working_hours(self, start: dt.datetime, hours: Amount) -> dt.datetime:
        """`add_working_time` in hours."""
        return self.add_working_time(start, _hours_to_seconds(hours))

    def add_working_days(self, start: dt.datetime, days: int) -> dt.datetime:
        """N working days later: same time of day on the N-th following working day (rules in the docs).

        From inside a working period (start <= t < end, on a working day) the result is the same time of
        day on the N-th working day after the start's date. From outside working periods it is the moment
        N whole working days of working time later, which is the end of a working period (12:00 or 17:30
        by default). Either way exactly N x daily working time lies between start and result.
        """
        if isinstance(days, bool) or not isinstance(days, int | Decimal | float) or days != int(days):
            raise ValueError(f"working days must be a whole number, got {days!r}")
        n = int(days)
        if n < 0:
            raise ValueError(f"working days must not be negative, got {days}")
        local = self._local(start)
        if n == 0:
            return local
        t = _us_of_day(local)
        ordinal = local.toordinal()
        if not (self.is_workday(local.date()) and any(s <= t < e for s, e in self._spans)):
            return self.add_working_time(local, dt.timedelta(microseconds=n * self._daily_us))
        horizon = self._search_until(ordinal, n)
        while True:
            table = self._covering(ordinal, horizon)
            k = bisect_left(table.cum, table.cum[ordinal - table.first + 1] + n)
            if k < len(table.cum):
                return self._at(table.first + k - 1, t)
            horizon = self._widen(ordinal, horizon)

    def working_seconds_between(self, a: dt.datetime, b: dt.datetime) -> float:
        """Working seconds from a to b; negative when b is before a (so "overdue by" reads naturally)."""
        la, lb = self._local(a), self._local(b)
        oa, ob = la.toordinal(), lb.toordinal()
        table = self._covering(min(oa, ob), max(oa, ob))
        return (self._position(table, lb) - self._position(table, la)) / _US

    def add_clock_hours(self, start: dt.datetime, hours: Amount) -> dt.datetime:
        """Round-the-clock hours (urgent limits): holidays, nights and weekends all count."""
        amount = _to_us(_hours_to_seconds(hours), "clock hours")
        local = self._local(start)
        # Add in UTC so elapsed time is exact even for a time zone with daylight saving.
        return (local.astimezone(dt.UTC) + dt.timedelta(microseconds=amount)).astimezone(self.tz)

    def deadline(self, start: dt.datetime, amount: Amount, unit: str) -> dt.datetime:
        """The end of a time limit of `amount` `unit`s (a cases.models.LimitUnit value) from `start`."""
        unit = getattr(unit, "value", unit)
        if unit == CLOCK_HOURS:
            return self.add_clock_hours(start, amount)
        if unit == WORKING_HOURS:
            return self.add_working_hours(start, amount)
        if unit == WORKING_DAYS:
            return self.add_working_days(start, amount)  # type: ignore[arg-type]
        raise ValueError(f"unknown time-limit unit {unit!r}; expected one of {', '.join(UNITS)}")


def _hours_to_seconds(hours: Amount) -> Amount:
    if isinstance(hours, Decimal):
        return hours * 3600
    if isinstance(hours, int | float) and not isinstance(hours, bool):
        return hours * 3600
    raise TypeError(f"hours must be a number, not {type(hours).__name__}")


# The installation's calendar

# Other processes learn about changed overrides by re-reading them at most this often.
RECHECK_SECONDS = 5.0
_clock = time.monotonic  # replaced in tests


@dataclass(frozen=True, slots=True)
class _Cached:
    calendar: WorkingCalendar
    fingerprint: tuple[Any, ...]
    checked_at: float


_cached: _Cached | None = None
_cache_lock = threading.Lock()


def calendar() -> WorkingCalendar:
    """The installation's working calendar: settings' working hours plus the CalendarOverride rows.

    Cached per process; the overrides are re-read at most every RECHECK_SECONDS (one small query: the
    rows themselves are the fingerprint) and the calendar is rebuilt only when they or the settings
    changed, so bulk callers may call this for every deadline.
    """
    global _cached
    cached = _cached
    now = _clock()
    if cached is not None and now - cached.checked_at < RECHECK_SECONDS:
        return cached.calendar
    with _cache_lock:
        cached = _cached
        if cached is not None and now - cached.checked_at < RECHECK_SECONDS:
            return cached.calendar
        from django.conf import settings
        from django.core.exceptions import ImproperlyConfigured

        from civicgrid.core.models import CalendarOverride

        spans = settings.CIVICGRID_WORKING_HOURS
        tz_name = settings.TIME_ZONE or "Asia/Shanghai"
        rows = tuple(CalendarOverride.objects.order_by("date").values_list("date", "is_workday"))
        fingerprint = (spans, tz_name, rows)
        if cached is not None and cached.fingerprint == fingerprint:
            _cached = _Cached(cached.calendar, fingerprint, now)
            return cached.calendar
        try:
            built = WorkingCalendar(spans, dict(rows), tz=ZoneInfo(tz_name))
        except WorkingHoursError as exc:
            raise ImproperlyConfigured(
                f"CIVICGRID_WORKING_HOURS (environment variable of the same name): {exc}"
            ) from exc
        _cached = _Cached(built, fingerprint, now)
        return built


def invalidate() -> None:
    """Forget the cached calendar in this process; the next calendar() call rebuilds it."""
    global _cached
    with _cache_lock:
        _cached = None


def _on_override_change(**kwargs: Any) -> None:
    # Same-process edits (admin, actions) take effect at once; other processes within RECHECK_SECONDS.
    # A rolled-back save is corrected by the next re-check, since the fingerprint is read afresh.
    invalidate()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in ("CIVICGRID_WORKING_HOURS", "TIME_ZONE"):
        invalidate()


def _connect_signals() -> None:
    from django.db.models.signals import post_delete, post_save
    from django.test.signals import setting_changed

    # A lazy sender ("core.CalendarOverride") avoids importing models before the app registry is ready.
    post_save.connect(_on_override_change, sender="core.CalendarOverride", dispatch_uid="workcal-save")
    post_delete.connect(_on_override_change, sender="core.CalendarOverride", dispatch_uid="workcal-delete")
    setting_changed.connect(_on_setting_changed, dispatch_uid="workcal-settings")


_connect_signals()
