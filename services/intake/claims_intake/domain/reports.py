"""The arithmetic of the claims reports (pure): periods, rates, percentiles and review-backlog ages.

Rates are fractions from 0 to 1 rounded half-up to four decimals; durations are hours rounded half-up to
two decimals. Percentiles use the nearest-rank method on the exact durations; the median of an even
count is the mean of the two middle values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

GROUPINGS = ("day", "week", "month")
RATE_PLACES = Decimal("0.0001")
HOUR_PLACES = Decimal("0.01")
SCORE_PLACES = Decimal("0.01")

UNDER_1_DAY = "under_1_day"
DAYS_1_TO_3 = "1_to_3_days"
DAYS_3_TO_7 = "3_to_7_days"
OVER_7_DAYS = "over_7_days"
AGE_BUCKETS: tuple[tuple[str, timedelta | None], ...] = (
    (UNDER_1_DAY, timedelta(days=1)),
    (DAYS_1_TO_3, timedelta(days=3)),
    (DAYS_3_TO_7, timedelta(days=7)),
    (OVER_7_DAYS, None),
)
"""Half-open buckets by age: [0, 1 d), [1 d, 3 d), [3 d, 7 d), [7 d, ∞)."""

_MICROS_PER_HOUR = Decimal(3_600_000_000)


def period_start(day: date, group_by: str) -> date:
    """The first day of the calendar period holding ``day``: the day, the ISO week's Monday, the month's 1st."""
    if group_by == "day":
        return day
    if group_by == "week":
        return day - timedelta(days=day.weekday())
    if group_by == "month":
        return day.replace(day=1)
    raise ValueError(f"unknown grouping {group_by!r}")


def _next_period(start: date, group_by: str) -> date:
    if group_by == "day":
        return start + timedelta(days=1)
    if group_by == "week":
        return start + timedelta(days=7)
    return date(start.year + 1, 1, 1) if start.month == 12 else date(start.year, start.month + 1, 1)


def periods(first: date, last: date, group_by: str) -> list[tuple[date, date, date]]:
    """Every period overlapping ``[first, last]``: (calendar start, first day in range, last day in range)."""
    out: list[tuple[date, date, date]] = []
    start = period_start(first, group_by)
    while start <= last:
        following = _next_period(start, group_by)
        out.append((start, max(start, first), min(following - timedelta(days=1), last)))
        start = following
    return out


def count_periods(first: date, last: date, group_by: str) -> int:
    """How many periods ``periods`` would return (without building them)."""
    if last < first:
        return 0
    if group_by == "day":
        return (last - first).days + 1
    if group_by == "week":
        return (period_start(last, "week") - period_start(first, "week")).days // 7 + 1
    return (last.year - first.year) * 12 + last.month - first.month + 1


def rate(part: int, whole: int) -> Decimal | None:
    """``part / whole`` rounded half-up to four decimals; None when ``whole`` is 0."""
    if whole == 0:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


def mean(total: int, count: int, places: Decimal = SCORE_PLACES) -> Decimal | None:
    """``total / count`` rounded half-up; None when ``count`` is 0."""
    if count == 0:
        return None
    return (Decimal(total) / Decimal(count)).quantize(places, rounding=ROUND_HALF_UP)


def hours(duration: timedelta) -> Decimal:
    """A duration in hours, exact to the microsecond."""
    micros = (duration.days * 86_400 + duration.seconds) * 1_000_000 + duration.microseconds
    return Decimal(micros) / _MICROS_PER_HOUR


def median(values: Sequence[Decimal]) -> Decimal | None:
    """The median; for an even count the mean of the two middle values. None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def nearest_rank(values: Sequence[Decimal], percent: int) -> Decimal | None:
    """The ``percent``-th percentile by nearest rank: the ceil(percent / 100 * n)-th smallest value. None when empty."""
    if not values:
        return None
    if not 0 < percent <= 100:
        raise ValueError("percent must be in (0, 100]")
    ordered = sorted(values)
    rank = math.ceil(percent * len(ordered) / 100)
    return ordered[rank - 1]


def round_hours(value: Decimal | None) -> Decimal | None:
    """Hours rounded half-up to two decimals."""
    return None if value is None else value.quantize(HOUR_PLACES, rounding=ROUND_HALF_UP)


def age_bucket(age: timedelta) -> str:
    """The backlog bucket of a claim pended for ``age``."""
    for name, bound in AGE_BUCKETS:
        if bound is None or age < bound:
            return name
    raise AssertionError("unreachable")  # pragma: no cover
