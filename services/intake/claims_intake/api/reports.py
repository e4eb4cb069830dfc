"""Reports for management: claims figures as JSON or CSV, and a chart (docs/reports.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from claims_intake.api.report_schemas import ClaimsReport
from claims_intake.api.routes import Ctx
from claims_intake.charts import claims_chart_svg
from claims_intake.domain import reports as calc
from claims_intake.reports import claims_report, report_csv
from claims_platform.auth import Principal, require_roles
from claims_platform.deps import runtime_of
from claims_platform.errors import ProblemError

router = APIRouter(prefix="/v1/reports", tags=["reports"])

REPORT_ROLES = ("admin", "auditor", "supervisor")
ReportReader = Annotated[Principal, Depends(require_roles(*REPORT_ROLES))]
Grouping = Literal["day", "week", "month"]
DEFAULT_DAYS = 30
MAX_PERIODS = 1000
MAX_DAYS = 3660

From = Annotated[
    date | None, Query(alias="from", description="First day of submission (UTC); default 29 days before `to`.")
]
To = Annotated[date | None, Query(description="Last day of submission (UTC), inclusive; default today.")]

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No valid token"},
    403: {"description": "Not admin, auditor or supervisor"},
    422: {"description": "Bad from, to or group_by, each listed"},
}


def _range(ctx: Any, from_: date | None, to: date | None, group_by: str | None) -> tuple[date, date]:
    last = to or ctx.today()
    first = from_ or last - timedelta(days=DEFAULT_DAYS - 1)
    if last < first:
        raise ProblemError(
            422,
            "Validation failed",
            "`to` is before `from`.",
            type_="/problems/validation",
            errors=[{"field": "to", "message": "must not be before from"}],
        )
    if (last - first).days + 1 > MAX_DAYS:
        raise ProblemError(
            422,
            "Validation failed",
            f"A report covers at most {MAX_DAYS} days.",
            type_="/problems/validation",
            errors=[{"field": "from", "message": f"more than {MAX_DAYS} days before to"}],
        )
    if group_by is not None and calc.count_periods(first, last, group_by) > MAX_PERIODS:
        raise ProblemError(
            422,
            "Validation failed",
            f"At most {MAX_PERIODS} periods; group by a longer period.",
            type_="/problems/validation",
            errors=[{"field": "group_by", "message": f"gives more than {MAX_PERIODS} periods"}],
        )
    return first, last


@asynccontextmanager
async def _snapshot(request: Request) -> AsyncIterator[AsyncSession]:
    """A read-only session whose queries all see one snapshot, so the figures agree with each other."""
    db = runtime_of(request).db
    async with db.sessions() as session:
        if not db.is_sqlite:  # SQLite transactions are serializable already
            await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        try:
            yield session
        finally:
            await session.rollback()


def _wants_csv(accept: str | None) -> bool:
    """Whether the Accept header prefers text/csv to JSON (JSON on a tie or without a header)."""
    best: dict[str, float] = {}
    for part in (accept or "").split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        q = 1.0
        for param in fields[1:]:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        for kind in ("text/csv", "application/json"):
            if media in (kind, kind.split("/")[0] + "/*", "*/*"):
                best[kind] = max(best.get(kind, 0.0), q if media == kind else q - 0.001)
    return best.get("text/csv", 0.0) > best.get("application/json", 0.0)


@router.get(
    "/claims",
    response_model=ClaimsReport,
    responses={**_ERRORS, 200: {"content": {"text/csv": {}}, "description": "The report (JSON, or CSV on Accept)"}},
    summary="Claims report (JSON, or CSV with Accept: text/csv)",
)
async def get_claims_report(
    request: Request,
    _: ReportReader,
    ctx: Ctx,
    from_: From = None,
    to: To = None,
    group_by: Grouping | None = None,
) -> Any:
    """Claims submitted from `from` to `to`: statuses, rates, denial reasons, turnaround, amounts, backlog."""
    first, last = _range(ctx, from_, to, group_by)
    async with _snapshot(request) as session:
        report = await claims_report(session, first=first, last=last, group_by=group_by, now=ctx.now())
    if _wants_csv(request.headers.get("accept")):
        name = f"claims-report-{first}-{last}.csv"
        return Response(
            report_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return report


@router.get(
    "/claims/chart.svg",
    response_class=Response,
    responses={**_ERRORS, 200: {"content": {"image/svg+xml": {}}, "description": "The chart"}},
    summary="Chart of claim volumes and amounts per period (SVG)",
)
async def get_claims_chart(
    request: Request,
    _: ReportReader,
    ctx: Ctx,
    from_: From = None,
    to: To = None,
    group_by: Grouping | None = None,
) -> Response:
    """Claims submitted and decided, and amounts charged, payable and paid, per period."""
    first, last = _range(ctx, from_, to, group_by)
    if group_by is None:
        days = (last - first).days + 1
        group_by = "day" if days <= 62 else "week" if days <= 366 else "month"
    async with _snapshot(request) as session:
        report = await claims_report(session, first=first, last=last, group_by=group_by, now=ctx.now())
    currency = "/".join(ctx.settings.accepted_currencies)
    return Response(claims_chart_svg(report, currency), media_type="image/svg+xml")
