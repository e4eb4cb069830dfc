"""HTTP schemas of the claims reports (docs/reports.md)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from claims_contracts.values import NonNegativeMoney

Rate = Annotated[float | None, Field(description="A fraction from 0 to 1, four decimals; null when nothing to divide.")]
Hours = Annotated[float | None, Field(description="Hours, two decimals; null when no claim got there.")]


class Outcomes(BaseModel):
    """Decided claims by their latest decision's outcome."""

    approved: int
    partially_approved: int
    denied: int


class Turnaround(BaseModel):
    """Durations of the claims that got there: median and 90th percentile (nearest rank)."""

    claims: int
    median: Hours
    p90: Hours


class TurnaroundRead(BaseModel):
    """Received → first decision, received → first settled payment."""

    received_to_decided: Turnaround
    received_to_paid: Turnaround


class DenialReasonCount(BaseModel):
    """A denial reason and how many decided claims' latest decision carries it."""

    reason: str
    claims: int


class CategoryAmounts(BaseModel):
    """Bill lines of one category."""

    claims: int = Field(description="Claims with at least one line of the category.")
    charged: NonNegativeMoney
    payable: NonNegativeMoney


class ClaimAmounts(BaseModel):
    """Claims sharing a provider or a diagnosis chapter."""

    claims: int
    charged: NonNegativeMoney
    payable: NonNegativeMoney
    paid: NonNegativeMoney


class ChapterAmounts(ClaimAmounts):
    """Claims whose primary diagnosis is in one ICD-10 chapter."""

    title: str
    codes: str = Field(description="The chapter's code range, e.g. J00-J99.")


class AmountsRead(BaseModel):
    """Charged (all claims), payable (latest decisions) and paid (settled payments), and their breakdowns."""

    charged: NonNegativeMoney
    payable: NonNegativeMoney
    paid: NonNegativeMoney
    by_category: dict[str, CategoryAmounts]
    by_provider: dict[str, ClaimAmounts]
    by_icd10_chapter: dict[str, ChapterAmounts]


class BacklogRead(BaseModel):
    """Claims waiting in human review now, by how long they have waited."""

    as_of: datetime
    total: int
    under_1_day: int
    days_1_to_3: int = Field(alias="1_to_3_days")
    days_3_to_7: int = Field(alias="3_to_7_days")
    over_7_days: int

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class SatisfactionRead(BaseModel):
    """Survey answers about the claims."""

    answers: int
    mean_score: float | None = Field(description="Mean score 1 to 5, two decimals; null without answers.")
    by_score: dict[str, int]


class Figures(BaseModel):
    """What every period of a report shows."""

    total_claims: int
    by_status: dict[str, int]
    decided_claims: int
    outcomes: Outcomes
    auto_adjudicated_claims: int
    auto_adjudication_rate: Rate
    approval_rate: Rate
    denial_rate: Rate
    charged: NonNegativeMoney
    payable: NonNegativeMoney
    paid: NonNegativeMoney
    turnaround_hours: TurnaroundRead


class PeriodRead(Figures):
    """One day, ISO week (from Monday) or month of a grouped report."""

    period: date = Field(description="First day of the calendar period.")
    from_: date = Field(alias="from", description="First day of the period inside the report's range.")
    to: date = Field(description="Last day of the period inside the report's range.")

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class ClaimsReport(BaseModel):
    """Claims submitted from ``from`` to ``to`` (UTC dates, inclusive); the backlog is as of now."""

    from_: date = Field(alias="from")
    to: date
    group_by: str | None
    generated_at: datetime
    total_claims: int
    by_status: dict[str, int]
    decided_claims: int
    outcomes: Outcomes
    auto_adjudicated_claims: int
    auto_adjudication_rate: Rate
    approval_rate: Rate
    denial_rate: Rate
    top_denial_reasons: list[DenialReasonCount]
    turnaround_hours: TurnaroundRead
    amounts: AmountsRead
    review_backlog: BacklogRead
    satisfaction: SatisfactionRead
    series: list[PeriodRead] | None = Field(description="One entry per period when grouped, else null.")

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)
