"""The reports' arithmetic: periods, rates, median, nearest-rank percentile, backlog buckets."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from claims_intake.domain import reports as calc
from claims_intake.icd10 import chapter_info, icd10_chapter


def d(*values: str) -> list[Decimal]:
    return [Decimal(v) for v in values]


def test_nearest_rank_and_median():
    assert calc.nearest_rank(d("1", "2", "6", "48"), 90) == Decimal("48")  # rank ceil(3.6) = 4
    assert calc.nearest_rank(d(*[str(i) for i in range(1, 11)]), 90) == Decimal("9")  # rank 9 of 10
    assert calc.nearest_rank(d(*[str(i) for i in range(1, 12)]), 90) == Decimal("10")  # rank ceil(9.9) = 10
    assert calc.nearest_rank(d("5"), 90) == Decimal("5")
    assert calc.nearest_rank([], 90) is None
    assert calc.median(d("6", "1", "48", "2")) == Decimal("4")
    assert calc.median(d("3", "1", "2")) == Decimal("2")
    assert calc.median([]) is None
    with pytest.raises(ValueError, match="percent"):
        calc.nearest_rank(d("1"), 0)


def test_rates_hours_and_means_round_half_up():
    assert calc.rate(2, 3) == Decimal("0.6667")
    assert calc.rate(1, 8) == Decimal("0.1250")
    assert calc.rate(1, 0) is None
    assert calc.hours(timedelta(days=1, minutes=30)) == Decimal("24.5")
    assert calc.round_hours(calc.hours(timedelta(seconds=18))) == Decimal("0.01")  # 0.005 h rounds up
    assert calc.mean(11, 3) == Decimal("3.67")
    assert calc.mean(0, 0) is None


def test_backlog_buckets_are_half_open():
    assert calc.age_bucket(timedelta(hours=23, minutes=59)) == "under_1_day"
    assert calc.age_bucket(timedelta(days=1)) == "1_to_3_days"
    assert calc.age_bucket(timedelta(days=3)) == "3_to_7_days"
    assert calc.age_bucket(timedelta(days=6, hours=23)) == "3_to_7_days"
    assert calc.age_bucket(timedelta(days=7)) == "over_7_days"


def test_periods_cover_the_range_by_calendar_period():
    weeks = calc.periods(date(2026, 3, 1), date(2026, 3, 31), "week")
    assert weeks[0] == (date(2026, 2, 23), date(2026, 3, 1), date(2026, 3, 1))
    assert weeks[-1] == (date(2026, 3, 30), date(2026, 3, 30), date(2026, 3, 31))
    assert len(weeks) == calc.count_periods(date(2026, 3, 1), date(2026, 3, 31), "week") == 6
    months = calc.periods(date(2025, 12, 15), date(2026, 2, 10), "month")
    assert [p[0] for p in months] == [date(2025, 12, 1), date(2026, 1, 1), date(2026, 2, 1)]
    assert months[0][1:] == (date(2025, 12, 15), date(2025, 12, 31))
    assert calc.count_periods(date(2025, 12, 15), date(2026, 2, 10), "month") == 3
    days = calc.periods(date(2024, 2, 28), date(2024, 3, 1), "day")
    assert [p[0] for p in days] == [date(2024, 2, 28), date(2024, 2, 29), date(2024, 3, 1)]
    with pytest.raises(ValueError, match="grouping"):
        calc.period_start(date(2026, 1, 1), "year")


def test_icd10_chapter_of_the_primary_diagnosis():
    assert icd10_chapter("J18.9") == "X"
    assert icd10_chapter("a00") == "I"
    assert icd10_chapter("U07.1") == "XXII"
    assert icd10_chapter("X99.9") is None
    assert chapter_info("XIX") == ("Injury, poisoning and certain other consequences of external causes", "S00-T98")
