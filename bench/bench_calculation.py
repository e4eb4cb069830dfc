"""Time the adjudication calculation (price_claim) on claims of 1, 10 and 100 lines.

Run: PYTHONPATH=services/adjudication python bench/bench_calculation.py [--sizes 1 10 100] [--seconds 1]

Each claim mixes every covered category, a line not covered, other insurance, a per-day cap and a
sublimit, priced against fresh accumulators under the plan and policy of DOMAIN.md §4. The figure is the
best of several timeit repeats (the least disturbed by the machine), per claim and per line.
"""

from __future__ import annotations

import argparse
import platform
import timeit
from datetime import date, timedelta
from decimal import Decimal
from functools import partial

from claims_adjudication.domain import Accumulators, ClaimLine, ClaimToPrice, price_claim
from claims_adjudication.domain.examples import standard_plan, standard_policy

CATEGORIES = (
    "consultation",
    "examination",
    "imaging",
    "drugs",
    "surgery",
    "room",
    "nursing",
    "consumables",
    "other",
)


def make_claim(lines: int) -> ClaimToPrice:
    """A claim of the given number of lines, spread over a week of March 2026."""
    start = date(2026, 3, 10)
    items = []
    for n in range(1, lines + 1):
        category = CATEGORIES[n % len(CATEGORIES)]
        quantity = Decimal(1 + n % 3)
        unit_price = Decimal(50 + (n * 37) % 900).quantize(Decimal("0.01")) + Decimal("0.35")
        amount = quantity * unit_price
        items.append(
            ClaimLine(
                line_no=n,
                service_date=start + timedelta(days=n % 7),
                category=category,
                code=f"{category[:1].upper()}-{n:04d}",
                quantity=quantity,
                unit_price=unit_price,
                amount=amount,
                other_insurance_paid=Decimal("20.00") if n % 5 == 0 else Decimal("0.00"),
            )
        )
    return ClaimToPrice(
        claim_id=f"BENCH-{lines}",
        member_id="M-1001",
        policy_number="POL-2026-0001",
        provider_id="H-001",
        claim_type="outpatient",
        accident=False,
        primary_diagnosis="J18.9",
        lines=tuple(items),
    )


def main(argv: list[str] | None = None) -> None:
    """Print microseconds per claim and per line for each claim size."""
    parser = argparse.ArgumentParser(description="Time price_claim on claims of several sizes.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--seconds", type=float, default=1.0, help="rough time spent on each size")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    plan, policy, fresh = standard_plan(), standard_policy(), Accumulators()
    print(f"price_claim, Python {platform.python_version()} on {platform.machine()}, best of {args.repeat}")
    print(f"{'lines':>6} {'calls':>8} {'µs/claim':>10} {'µs/line':>9}")
    for size in args.sizes:
        claim = make_claim(size)
        decision = price_claim(claim, plan, policy, fresh)
        unpaid = decision.member_responsibility + decision.other_insurance
        assert decision.charged == decision.payable + unpaid, "the totals do not add up"
        timer = timeit.Timer(partial(price_claim, claim, plan, policy, fresh))
        calls, elapsed = timer.autorange()
        number = max(1, int(calls * args.seconds / max(elapsed, 1e-9) / args.repeat))
        best = min(timer.repeat(repeat=args.repeat, number=number)) / number
        print(f"{size:>6} {number:>8} {best * 1e6:>10.1f} {best * 1e6 / size:>9.2f}")


if __name__ == "__main__":
    main()
