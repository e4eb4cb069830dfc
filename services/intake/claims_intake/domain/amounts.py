"""Cross-field rules of a submitted claim: amounts, dates, diagnoses, payee (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
MAX_TOTAL = Decimal("999999999999.99")
EARLIEST_SERVICE_DATE = date(2000, 1, 1)


@dataclass(frozen=True)
class Issue:
    """One bad field: its path in the request and what is wrong."""

    field: str
    message: str


@dataclass(frozen=True)
class LineFacts:
    """What the rules need of a bill line."""

    line_no: int
    service_date: date
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    other_insurance_paid: Decimal = Decimal("0.00")


@dataclass(frozen=True)
class ClaimFacts:
    """What the rules need of a claim."""

    claim_type: str
    diagnoses: Sequence[tuple[str, bool]]
    lines: Sequence[LineFacts]
    payee: str
    has_bank_account: bool
    currency: str
    admission_date: date | None = None
    discharge_date: date | None = None
    accepted_currencies: Sequence[str] = field(default_factory=lambda: ("CNY",))


def line_amount(quantity: Decimal, unit_price: Decimal) -> Decimal:
    """``quantity * unit_price`` to the cent, rounded half up."""
    return (quantity * unit_price).quantize(CENT, rounding=ROUND_HALF_UP)


def charged_total(lines: Sequence[LineFacts]) -> Decimal:
    """The claim's charged total: the sum of its lines' amounts."""
    return sum((line.amount for line in lines), Decimal("0.00")).quantize(CENT)


def check_claim(claim: ClaimFacts, *, latest_date: date, code_exists: Callable[[str], bool]) -> list[Issue]:
    """Every rule of DOMAIN.md §3 that a field's own type cannot express; empty when the claim is sound.

    ``latest_date`` is the latest date that is not in the future anywhere the claim may come from.
    """
    issues: list[Issue] = []
    issues += _check_diagnoses(claim.diagnoses, code_exists)
    issues += _check_lines(claim.lines, latest_date)
    issues += _check_stay(claim, latest_date)
    if claim.payee == "member" and not claim.has_bank_account:
        issues.append(Issue("bank_account", "required when payee is member"))
    if claim.payee == "provider" and claim.has_bank_account:
        issues.append(Issue("bank_account", "only for payee member; the hospital's account is registered with payment"))
    if claim.currency not in claim.accepted_currencies:
        accepted = ", ".join(claim.accepted_currencies)
        issues.append(Issue("currency", f"must be the plan's currency ({accepted})"))
    return issues


def _check_diagnoses(diagnoses: Sequence[tuple[str, bool]], code_exists: Callable[[str], bool]) -> list[Issue]:
    issues: list[Issue] = []
    seen: set[str] = set()
    for i, (code, _) in enumerate(diagnoses):
        if not code_exists(code):
            issues.append(Issue(f"diagnoses[{i}].code", f"{code} is not a code of the ICD-10 classification"))
        if code in seen:
            issues.append(Issue(f"diagnoses[{i}].code", f"{code} is listed twice"))
        seen.add(code)
    if diagnoses and sum(1 for _, primary in diagnoses if primary) != 1:
        issues.append(Issue("diagnoses", "exactly one diagnosis must be primary"))
    return issues


def _check_lines(lines: Sequence[LineFacts], latest_date: date) -> list[Issue]:
    issues: list[Issue] = []
    seen: set[int] = set()
    for i, line in enumerate(lines):
        path = f"lines[{i}]"
        if line.line_no in seen:
            issues.append(Issue(f"{path}.line_no", f"line number {line.line_no} is used twice"))
        seen.add(line.line_no)
        if line.service_date > latest_date:
            issues.append(Issue(f"{path}.service_date", "may not lie in the future"))
        if line.service_date < EARLIEST_SERVICE_DATE:
            issues.append(Issue(f"{path}.service_date", f"may not be before {EARLIEST_SERVICE_DATE.isoformat()}"))
        if line.quantity <= 0:
            issues.append(Issue(f"{path}.quantity", "must be positive"))
        if line.unit_price <= 0:
            issues.append(Issue(f"{path}.unit_price", "must be positive"))
        if line.amount <= 0:
            issues.append(Issue(f"{path}.amount", "must be positive"))
        elif line.quantity > 0 and line.unit_price > 0:
            expected = line_amount(line.quantity, line.unit_price)
            if expected != line.amount:
                issues.append(Issue(f"{path}.amount", f"must equal quantity * unit_price = {expected:.2f}"))
        if line.other_insurance_paid < 0:
            issues.append(Issue(f"{path}.other_insurance_paid", "may not be negative"))
        elif line.other_insurance_paid > line.amount:
            issues.append(Issue(f"{path}.other_insurance_paid", "may not exceed the line's amount"))
    if lines and charged_total(lines) > MAX_TOTAL:
        issues.append(Issue("lines", f"the claim's total may not exceed {MAX_TOTAL}"))
    return issues


def _check_stay(claim: ClaimFacts, latest_date: date) -> list[Issue]:
    issues: list[Issue] = []
    if claim.claim_type == "inpatient":
        if claim.admission_date is None:
            issues.append(Issue("admission_date", "required for an inpatient claim"))
        if claim.discharge_date is None:
            issues.append(Issue("discharge_date", "required for an inpatient claim"))
        if (
            claim.admission_date is not None
            and claim.discharge_date is not None
            and claim.discharge_date < claim.admission_date
        ):
            issues.append(Issue("discharge_date", "may not be before the admission date"))
        for name, value in (("admission_date", claim.admission_date), ("discharge_date", claim.discharge_date)):
            if value is not None and value > latest_date:
                issues.append(Issue(name, "may not lie in the future"))
    else:
        for name, value in (("admission_date", claim.admission_date), ("discharge_date", claim.discharge_date)):
            if value is not None:
                issues.append(Issue(name, "only an inpatient claim carries it"))
    return issues
