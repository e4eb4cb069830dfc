"""The claims report: figures of the claims submitted in a period, from the archive (docs/reports.md).

Counts and sums come from the database (``ReportRepository``); this module adds groups together,
divides, and takes percentiles of the durations it fetched.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from claims_contracts.values import Category, ClaimStatus
from claims_intake.api.report_schemas import (
    AmountsRead,
    BacklogRead,
    CategoryAmounts,
    ChapterAmounts,
    ClaimAmounts,
    ClaimsReport,
    DenialReasonCount,
    Figures,
    Outcomes,
    PeriodRead,
    SatisfactionRead,
    Turnaround,
    TurnaroundRead,
)
from claims_intake.db.repositories import Cohort, Durations, OutcomeGroup, ReportRepository
from claims_intake.domain import reports as calc
from claims_intake.icd10 import CHAPTERS, chapter_info

ZERO = Decimal("0.00")
STATUSES = tuple(s.value for s in ClaimStatus)
UNKNOWN_CHAPTER = "unknown"


def _number(value: Decimal | None) -> float | None:
    """A rounded Decimal as a JSON number (rates, hours, scores; never money)."""
    return None if value is None else float(value)


def _turnaround(values: Sequence[Decimal]) -> Turnaround:
    return Turnaround(
        claims=len(values),
        median=_number(calc.round_hours(calc.median(values))),
        p90=_number(calc.round_hours(calc.nearest_rank(values, 90))),
    )


def _turnarounds(durations: Iterable[Durations]) -> TurnaroundRead:
    decided: list[Decimal] = []
    paid: list[Decimal] = []
    for d in durations:
        if d.decided_at is not None:
            decided.append(calc.hours(d.decided_at - d.received_at))
        if d.paid_at is not None:
            paid.append(calc.hours(d.paid_at - d.received_at))
    return TurnaroundRead(received_to_decided=_turnaround(decided), received_to_paid=_turnaround(paid))


def _figures(groups: Iterable[OutcomeGroup], durations: Iterable[Durations]) -> Figures:
    by_status = dict.fromkeys(STATUSES, 0)
    outcomes = {"approved": 0, "partially_approved": 0, "denied": 0}
    total = automatic = 0
    charged = payable = paid = ZERO
    for g in groups:
        total += g.claims
        by_status[g.status] = by_status.get(g.status, 0) + g.claims
        charged += g.charged
        payable += g.payable
        paid += g.paid
        if g.outcome is not None:
            outcomes[g.outcome] = outcomes.get(g.outcome, 0) + g.claims
            if g.automatic:
                automatic += g.claims
    decided = sum(outcomes.values())
    return Figures(
        total_claims=total,
        by_status=by_status,
        decided_claims=decided,
        outcomes=Outcomes(**outcomes),
        auto_adjudicated_claims=automatic,
        auto_adjudication_rate=_number(calc.rate(automatic, decided)),
        approval_rate=_number(calc.rate(outcomes["approved"] + outcomes["partially_approved"], decided)),
        denial_rate=_number(calc.rate(outcomes["denied"], decided)),
        charged=charged,
        payable=payable,
        paid=paid,
        turnaround_hours=_turnarounds(durations),
    )


def _chapter_order(key: str) -> int:
    return CHAPTERS.index(key) if key in CHAPTERS else len(CHAPTERS)


async def claims_report(
    session: AsyncSession, *, first: date, last: date, group_by: str | None, now: datetime
) -> ClaimsReport:
    """Figures of the claims submitted from ``first`` to ``last`` (UTC dates, inclusive)."""
    repo = ReportRepository(session)
    start = datetime.combine(first, time.min, UTC)
    end = datetime.combine(last + timedelta(days=1), time.min, UTC)
    cohort = Cohort(start, end, group_by)
    groups = await repo.outcome_groups(cohort)
    durations = await repo.durations(cohort)
    figures = _figures(groups, durations)

    series: list[PeriodRead] | None = None
    if group_by is not None:
        groups_of: dict[date | None, list[OutcomeGroup]] = defaultdict(list)
        durations_of: dict[date | None, list[Durations]] = defaultdict(list)
        for g in groups:
            groups_of[g.period].append(g)
        for d in durations:
            durations_of[d.period].append(d)
        series = [
            PeriodRead(
                period=period,
                from_=period_from,
                to=period_to,
                **_figures(groups_of.get(period, []), durations_of.get(period, [])).model_dump(),
            )
            for period, period_from, period_to in calc.periods(first, last, group_by)
        ]

    plain = Cohort(start, end)
    categories = {c.key: c for c in await repo.amounts_by_category(plain)}
    by_category = {}
    for category in Category:
        c = categories.get(category.value)
        by_category[category.value] = CategoryAmounts(
            claims=c.claims if c else 0, charged=c.charged if c else ZERO, payable=c.payable if c else ZERO
        )
    by_provider = {
        str(g.key): ClaimAmounts(claims=g.claims, charged=g.charged, payable=g.payable, paid=g.paid or ZERO)
        for g in await repo.amounts_by(plain, "provider")
    }
    by_chapter: dict[str, ChapterAmounts] = {}
    for ch in sorted(await repo.amounts_by(plain, "chapter"), key=lambda a: _chapter_order(a.key or "")):
        key = ch.key or UNKNOWN_CHAPTER
        title, codes = chapter_info(key) if key in CHAPTERS else ("Unknown", "")
        by_chapter[key] = ChapterAmounts(
            title=title, codes=codes, claims=ch.claims, charged=ch.charged, payable=ch.payable, paid=ch.paid or ZERO
        )

    backlog = await repo.review_backlog(now, calc.AGE_BUCKETS)
    scores = await repo.feedback_scores(plain)
    answers = sum(scores.values())
    return ClaimsReport(
        from_=first,
        to=last,
        group_by=group_by,
        generated_at=now,
        total_claims=figures.total_claims,
        by_status=figures.by_status,
        decided_claims=figures.decided_claims,
        outcomes=figures.outcomes,
        auto_adjudicated_claims=figures.auto_adjudicated_claims,
        auto_adjudication_rate=figures.auto_adjudication_rate,
        approval_rate=figures.approval_rate,
        denial_rate=figures.denial_rate,
        top_denial_reasons=[DenialReasonCount(reason=r, claims=n) for r, n in await repo.denial_reasons(plain)],
        turnaround_hours=figures.turnaround_hours,
        amounts=AmountsRead(
            charged=figures.charged,
            payable=figures.payable,
            paid=figures.paid,
            by_category=by_category,
            by_provider=by_provider,
            by_icd10_chapter=by_chapter,
        ),
        review_backlog=BacklogRead(
            as_of=now,
            total=sum(backlog.values()),
            under_1_day=backlog.get(calc.UNDER_1_DAY, 0),
            days_1_to_3=backlog.get(calc.DAYS_1_TO_3, 0),
            days_3_to_7=backlog.get(calc.DAYS_3_TO_7, 0),
            over_7_days=backlog.get(calc.OVER_7_DAYS, 0),
        ),
        satisfaction=SatisfactionRead(
            answers=answers,
            mean_score=_number(calc.mean(sum(s * n for s, n in scores.items()), answers)),
            by_score={str(s): scores.get(s, 0) for s in range(1, 6)},
        ),
        series=series,
    )


# ----------------------------------------------------------------------------------------------------------- CSV

CSV_COLUMNS = ("section", "period", "key", "metric", "value")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _figure_rows(section: str, period: str, figures: dict[str, Any]) -> Iterator[tuple[str, ...]]:
    for metric in (
        "total_claims",
        "decided_claims",
        "auto_adjudicated_claims",
        "auto_adjudication_rate",
        "approval_rate",
        "denial_rate",
        "charged",
        "payable",
        "paid",
    ):
        yield section, period, "", metric, _cell(figures[metric])
    for outcome, n in figures["outcomes"].items():
        yield section, period, outcome, "claims_decided", _cell(n)
    for status_, n in figures["by_status"].items():
        yield section, period, status_, "claims_by_status", _cell(n)
    for span, t in figures["turnaround_hours"].items():
        for metric in ("claims", "median", "p90"):
            yield section, period, span, f"turnaround_{metric}", _cell(t[metric])


def report_rows(report: ClaimsReport) -> Iterator[tuple[str, ...]]:
    """The report as long-format rows: section, period, key, metric, value (the JSON's figures, same text)."""
    data = report.model_dump(mode="json", by_alias=True)
    yield "report", "", "", "from", data["from"]
    yield "report", "", "", "to", data["to"]
    yield "report", "", "", "group_by", _cell(data["group_by"])
    yield "report", "", "", "generated_at", data["generated_at"]
    yield from _figure_rows("summary", "", {**data, **data["amounts"]})
    for item in data["top_denial_reasons"]:
        yield "denial_reasons", "", item["reason"], "claims", _cell(item["claims"])
    amounts = data["amounts"]
    for section, dimension in (
        ("by_category", "by_category"),
        ("by_provider", "by_provider"),
        ("by_icd10_chapter", "by_icd10_chapter"),
    ):
        for key, figures in amounts[dimension].items():
            for metric, value in figures.items():
                yield section, "", key, metric, _cell(value)
    backlog = data["review_backlog"]
    for bucket in ("total", "under_1_day", "1_to_3_days", "3_to_7_days", "over_7_days"):
        yield "review_backlog", "", bucket, "claims", _cell(backlog[bucket])
    satisfaction = data["satisfaction"]
    yield "satisfaction", "", "", "answers", _cell(satisfaction["answers"])
    yield "satisfaction", "", "", "mean_score", _cell(satisfaction["mean_score"])
    for score, n in satisfaction["by_score"].items():
        yield "satisfaction", "", score, "answers_with_score", _cell(n)
    for period in data["series"] or []:
        label = period["period"]
        yield "series", label, "", "from", period["from"]
        yield "series", label, "", "to", period["to"]
        yield from _figure_rows("series", label, period)


def report_csv(report: ClaimsReport) -> str:
    """The report as CSV (RFC 4180, header row)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(report_rows(report))
    return out.getvalue()
