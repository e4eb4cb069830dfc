"""`make bench`: the whole suite end to end, at a steady rate and at full speed, against the machine's ceiling.

    .venv/bin/python bench/run.py            (or: make bench BENCH_CLAIMS=1000)

Starts PostgreSQL and Kafka with ``scripts/infra.sh up`` (reused when running) and the four services as
processes on fresh databases and a fresh topic prefix, unless ``BENCH_INTAKE_URL`` and friends name a
running stack (see ``stack.external_stack``). Then:

1. warm-up: ``BENCH_WARMUP`` claims (default 50), not counted;
2. steady: ``BENCH_STEADY_RATE`` claims/s (default 100) for ``BENCH_STEADY_SECONDS`` (default 20), open
   loop, for the submit → paid latency;
3. full speed: ``BENCH_CLAIMS`` claims (default 5000) with ``BENCH_CONCURRENCY`` requests in flight
   (default 32), for the throughput;
4. the machine's ceiling (``ceiling.measure``), the suite idle. Last, not first: measured first, its
   aftermath (among others the broker deleting the ceiling topic's files a minute later) ran into the
   steady phase and raised its p99 by a quarter.

A claim is paid when its PaymentCompleted arrives on ``<prefix>claims.payment.v1`` (read by the bench,
so intake is not polled). ``lost``: acknowledged claims still unpaid once no claim of their phase has
been paid for ``BENCH_PAID_TIMEOUT`` seconds (default 60); ``double_paid``: claims with PaymentCompleted
for two payment ids, or two payment rows in payment's database. The last line is
``claims_per_s=<full speed, submitted → paid> submit_per_s=<full speed> p99_paid_ms=<steady phase>
lost=<all phases> double_paid=<all phases>``.

Other knobs: ``BENCH_CEILING_SECONDS`` (5; 0 skips), ``BENCH_PROFILE=intake,payment`` (py-spy during
full speed, ``BENCH_PROFILE_SECONDS`` 10; ``BENCH_PROFILE_ARGS="--gil"`` counts only the thread holding
the GIL, ``"--gil --native"`` adds C frames and pauses the process per sample), ``BENCH_KEEP=1`` (keep
databases and logs), ``BENCH_JSON`` (write the figures there).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ceiling import Ceiling, measure
from observe import (
    CpuMeter,
    PaymentWatcher,
    cpu_delta,
    delete_topics,
    double_payment_rows,
    pg_commits,
    suite_topics,
    topic_messages,
)
from spy import record, summarise
from stack import SERVICES, Stack, asyncpg_dsn, external_stack, infra_pids, load_infra_env, local_stack
from workload import PAYABLE, Submitted, Submitter, Work, load_reference_data, plan_work

from claims_platform.auth import mint_token

Submit = Callable[[list[Work]], Awaitable[Submitted]]


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of values; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, round(q / 100.0 * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class Phase:
    """The figures of one phase."""

    name: str
    offered: int
    acked: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    first_error: str | None = None
    seconds_submitting: float = 0.0
    seconds_to_last_paid: float = 0.0
    paid: int = 0
    lost: int = 0
    submit_per_s: float = 0.0
    claims_per_s: float = 0.0
    submit_ms: dict[str, float] = field(default_factory=dict)
    paid_ms: dict[str, float] = field(default_factory=dict)
    cpu_s: dict[str, float] = field(default_factory=dict)
    machine_busy_pct: float = 0.0
    elapsed: float = 0.0
    commits: int | None = None
    messages: int | None = None
    statements: dict[str, float] = field(default_factory=dict)
    transactions: dict[str, float] = field(default_factory=dict)


class Bench:
    """One run: the stack, the watcher and the figures of each phase."""

    def __init__(self, stack: Stack, ceiling: Ceiling | None) -> None:
        self.stack = stack
        self.ceiling = ceiling
        self.run_id = uuid.uuid4().hex[:6]
        self.watcher = PaymentWatcher(stack.kafka_bootstrap, stack.topic_prefix)
        self.meter = CpuMeter(stack.pids, infra_pids() if stack.owned else {}, stack.tag)
        self.idle_cpu_ms_per_s: dict[str, float] = {}
        self.phases: list[Phase] = []
        self.acked: dict[str, float] = {}
        self.unpaid: set[str] = set()
        self.profiles: dict[str, str] = {}
        self.next_member = 0
        self.idle_commits_per_s: float | None = None

    def work(self, count: int) -> list[Work]:
        """Claims for members not used yet in this run."""
        work = plan_work(self.run_id, self.next_member, count)
        self.next_member += count
        return work

    async def commits(self) -> int | None:
        """Commits so far in the services' databases, when the bench may read PostgreSQL's statistics."""
        if not self.stack.pg_admin_url or not self.stack.databases:
            return None
        await asyncio.sleep(1.1)  # backends flush their statistics at most once a second
        return await pg_commits(asyncpg_dsn(self.stack.pg_admin_url), list(self.stack.databases.values()))

    async def messages(self) -> int | None:
        """Messages so far on the suite's topics, when they are the bench's own."""
        if not self.stack.owned:
            return None
        return sum((await topic_messages(self.stack.kafka_bootstrap, suite_topics(self.stack.topic_prefix))).values())

    async def database_work(self) -> dict[str, tuple[float, float]]:
        """Per service: SQL statements and transactions so far (``db_*_total`` on its ``/metrics``)."""
        out: dict[str, tuple[float, float]] = {}
        async with httpx.AsyncClient(timeout=10) as client:
            for service, url in self.stack.urls.items():
                with contextlib.suppress(httpx.HTTPError):
                    text = (await client.get(f"{url}/metrics")).text
                    out[service] = (
                        _metric_sum(text, "db_statements_total"),
                        _metric_sum(text, "db_transactions_total"),
                    )
        return out

    async def phase(self, name: str, work: list[Work], submit: Submit, profile: list[str] | None = None) -> Phase:
        """Submit ``work`` with ``submit``, wait for the payments, and measure."""
        commits0, messages0 = await self.commits(), await self.messages()
        db0 = await self.database_work()
        cpu0 = self.meter.sample()
        spies = []
        if profile:
            seconds = _env_float("BENCH_PROFILE_SECONDS", 10)
            out_dir = self.stack.work_dir or Path.cwd()
            spies = [
                (svc, asyncio.create_task(self._spy(svc, seconds, out_dir / f"profile-{svc}.txt")))
                for svc in profile
                if svc in self.stack.pids
            ]
        submitted: Submitted = await submit(work)
        claims = set(submitted.sent_at)
        missing = await self.watcher.wait_paid(claims, _env_float("BENCH_PAID_TIMEOUT", 60))
        cpu1 = self.meter.sample()
        for svc, task in spies:
            raw = await task
            self.profiles[svc] = summarise(raw) if raw else "  (py-spy failed)"
        commits1, messages1 = await self.commits(), await self.messages()
        db1 = await self.database_work()

        paid = {c: self.watcher.paid[c].first_at for c in claims if c in self.watcher.paid}
        last_paid = max(paid.values(), default=submitted.started)
        cpu = cpu_delta(cpu0, cpu1)
        p = Phase(
            name, offered=len(work), acked=len(claims), errors=submitted.errors, first_error=submitted.first_error
        )
        p.seconds_submitting = max(submitted.finished - submitted.started, 1e-9)
        p.seconds_to_last_paid = max(last_paid - submitted.started, 1e-9)
        p.paid, p.lost = len(paid), len(missing)
        p.submit_per_s = p.acked / p.seconds_submitting
        p.claims_per_s = p.paid / p.seconds_to_last_paid
        p.submit_ms = {f"p{q}": percentile(submitted.latency, q) * 1000 for q in (50, 95, 99)}
        p.submit_ms["max"] = max(submitted.latency, default=float("nan")) * 1000
        waits = [paid[c] - submitted.sent_at[c] for c in paid]
        p.paid_ms = {f"p{q}": percentile(waits, q) * 1000 for q in (50, 95, 99)}
        p.paid_ms["max"] = max(waits, default=float("nan")) * 1000
        p.cpu_s = cpu
        elapsed = p.elapsed = cpu1.at - cpu0.at
        p.machine_busy_pct = 100 * cpu["machine"] / (elapsed * (os.cpu_count() or 1))
        if commits0 is not None and commits1 is not None:
            p.commits = commits1 - commits0
        if messages0 is not None and messages1 is not None:
            p.messages = messages1 - messages0
        for service in db0.keys() & db1.keys():
            p.statements[service] = db1[service][0] - db0[service][0]
            p.transactions[service] = db1[service][1] - db0[service][1]
        self.acked.update(submitted.sent_at)
        self.unpaid |= missing
        self.phases.append(p)
        return p

    async def _spy(self, service: str, seconds: float, out: Path) -> Path | None:
        await asyncio.sleep(2.0)  # let full speed settle first
        return await record(self.stack.pids[service], seconds, out)

    async def idle(self, seconds: float = 3.0) -> None:
        """Commits/s and CPU of the idle suite (its pollers), to tell them from the claims' own."""
        before = await self.commits()
        cpu0 = self.meter.sample()
        await asyncio.sleep(seconds)
        cpu1 = self.meter.sample()
        after = await self.commits()
        elapsed = cpu1.at - cpu0.at
        self.idle_cpu_ms_per_s = {k: 1000 * v / elapsed for k, v in cpu_delta(cpu0, cpu1).items()}
        if before is not None and after is not None:
            self.idle_commits_per_s = (after - before) / (elapsed + 1.1)

    async def double_paid(self) -> tuple[int, int | None]:
        """Claims paid twice (events or rows), and payment rows in all (None without the database)."""
        twice = {c for c, paid in self.watcher.paid.items() if len(paid.payment_ids) > 1}
        rows = None
        if self.stack.payment_dsn:
            doubles, rows = await double_payment_rows(self.stack.payment_dsn)
            twice |= doubles
        return len(twice), rows


async def run_bench() -> int:
    """Run every phase and print the table; the exit status is 1 when a claim was lost or paid twice."""
    stack = external_stack()
    ceiling_seconds = _env_float("BENCH_CEILING_SECONDS", 5)
    if stack is None:
        load_infra_env()
    if "CLAIMS_TEST_PG_ADMIN_URL" not in os.environ:
        ceiling_seconds = 0
    if stack is None:
        print("[bench] starting the four services on fresh databases and topics")
        stack = await asyncio.to_thread(local_stack, False)
    try:
        return await _run(stack, ceiling_seconds)
    finally:
        keep = os.environ.get("BENCH_KEEP") == "1"
        if keep and stack.work_dir:
            print(f"[bench] kept databases {stack.tag}_*, topics {stack.topic_prefix}* and logs in {stack.work_dir}")
        await asyncio.to_thread(stack.close, keep)
        if stack.owned and not keep:
            with contextlib.suppress(Exception):
                await delete_topics(stack.kafka_bootstrap, suite_topics(stack.topic_prefix))


async def _run(stack: Stack, ceiling_seconds: float) -> int:
    claims = _env_int("BENCH_CLAIMS", 5000)
    rate = _env_float("BENCH_STEADY_RATE", 100)
    steady_n = int(rate * _env_float("BENCH_STEADY_SECONDS", 20))
    concurrency = _env_int("BENCH_CONCURRENCY", 32)
    warmup_n = _env_int("BENCH_WARMUP", 50)
    profile = [s.strip() for s in os.environ.get("BENCH_PROFILE", "").split(",") if s.strip()]
    bench = Bench(stack, None)
    warm, steady, full = bench.work(warmup_n), bench.work(steady_n), bench.work(claims)
    limits = httpx.Limits(max_connections=max(concurrency, 64), max_keepalive_connections=max(concurrency, 64))
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        admin = {"Authorization": f"Bearer {mint_token(stack.jwt_secret, 'bench-admin', ['admin'])}"}
        print(f"[bench] loading plan STD-2026 and policies for {bench.next_member} members")
        await load_reference_data(client, stack.urls["adjudication"], admin, [*warm, *steady, *full])
        await bench.watcher.start(from_beginning=stack.owned)
        meter_task = asyncio.create_task(bench.meter.run())
        connector = aiohttp.TCPConnector(limit=max(concurrency, 64))
        submitter = Submitter(
            aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)),
            stack.urls["intake"],
            stack.jwt_secret,
        )
        try:
            if warm:
                print(f"[bench] warm-up: {len(warm)} claims")
                await bench.phase("warm-up", warm, lambda w: submitter.full_speed(w, min(concurrency, 8)))
            await bench.idle()
            if steady:
                print(f"[bench] steady: {len(steady)} claims at {rate:g}/s")
                await bench.phase("steady", steady, lambda w: submitter.steady(w, rate))
            print(f"[bench] full speed: {len(full)} claims, {concurrency} in flight")
            await bench.phase("full speed", full, lambda w: submitter.full_speed(w, concurrency), profile)
            double_paid, rows = await bench.double_paid()
            if ceiling_seconds > 0:
                print(f"[bench] the machine's ceiling ({ceiling_seconds:g} s of PostgreSQL, 50k Kafka messages)")
                bench.ceiling = await measure(ceiling_seconds)
        finally:
            meter_task.cancel()
            await submitter.session.close()
            await bench.watcher.stop()
    return report(bench, double_paid, rows)


def _metric_sum(text: str, name: str) -> float:
    """The sum of a Prometheus counter's samples (all labels) in an exposition text."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line[len(name)] in " {":
            total += float(line.rsplit(" ", 1)[1])
    return total


def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None or value != value:  # None or NaN
        return "n/a"
    return f"{value:,.{digits}f}"


def report(bench: Bench, double_paid: int, payment_rows: int | None) -> int:
    """Print the table and the last line; 1 when something was lost or paid twice."""
    phases = [p for p in bench.phases if p.name != "warm-up"]
    steady = next((p for p in phases if p.name == "steady"), None)
    full = next(p for p in phases if p.name == "full speed")
    wrong = sum(1 for c in bench.acked if c in bench.watcher.paid and bench.watcher.paid[c].amounts[0] != PAYABLE)
    lost = len(bench.unpaid)
    cpu_names = [*SERVICES, "postgres", "kafka", "bench"]
    cols = [p.name for p in phases]
    rows: list[tuple[str, list[str]]] = [
        ("claims offered / acknowledged", [f"{p.offered} / {p.acked}" for p in phases]),
        ("submit errors", [", ".join(f"{k} x{v}" for k, v in p.errors.items()) or "0" for p in phases]),
        ("submissions/s", [_fmt(p.submit_per_s, 1) for p in phases]),
        ("end-to-end claims/s (submitted → paid)", [_fmt(p.claims_per_s, 1) for p in phases]),
        ("paid / lost", [f"{p.paid} / {p.lost}" for p in phases]),
    ]
    for label, key in (("submit", "submit_ms"), ("submit → paid", "paid_ms")):
        for q in ("p50", "p95", "p99", "max"):
            rows.append((f"{label} {q} ms", [_fmt(getattr(p, key)[q]) for p in phases]))
    served = [max(p.acked, 1) for p in phases]
    pairs = list(zip(phases, served, strict=True))
    ncpu = os.cpu_count() or 1
    rows.append(
        (
            "CPU ms/claim, four services",
            [_fmt(1000 * sum(p.cpu_s.get(s, 0) for s in SERVICES) / n, 1) for p, n in pairs],
        )
    )
    if bench.idle_cpu_ms_per_s:
        idle = sum(bench.idle_cpu_ms_per_s.get(s, 0) for s in SERVICES) / 1000
        net = [(1000 * (sum(p.cpu_s.get(s, 0) for s in SERVICES) - idle * p.elapsed) / n) for p, n in pairs]
        rows.append(("  net of the idle pollers' CPU", [_fmt(v, 1) for v in net]))
    for name in cpu_names:
        if any(name in p.cpu_s for p in phases):
            rows.append(
                (
                    f"  {name}",
                    [_fmt(1000 * p.cpu_s.get(name, float("nan")) / n, 1) for p, n in pairs],
                )
            )
    rows.append(("  whole machine", [_fmt(1000 * p.cpu_s["machine"] / n, 1) for p, n in pairs]))
    suite_ms = [sum(p.cpu_s.get(s, 0) for s in (*SERVICES, "postgres", "kafka")) * 1000 / n for p, n in pairs]
    capacity = [_fmt(ncpu * 1000 / ms, 1) if ms else "n/a" for ms in suite_ms]
    rows.append(("CPU-bound rate on idle cores, claims/s", capacity))
    rows.append(("machine busy % (all cores = 100)", [_fmt(p.machine_busy_pct) for p in phases]))
    rows.append(
        (
            "PostgreSQL commits/claim",
            [_fmt(p.commits / n, 1) if p.commits is not None else "n/a" for p, n in pairs],
        )
    )
    rows.append(
        (
            "Kafka messages/claim",
            [_fmt(p.messages / n, 1) if p.messages is not None else "n/a" for p, n in pairs],
        )
    )
    if any(p.statements for p in phases):
        rows.append(
            (
                "SQL statements/claim (+ transactions)",
                [f"{sum(p.statements.values()) / n:.1f} (+{sum(p.transactions.values()) / n:.1f})" for p, n in pairs],
            )
        )
        for service in SERVICES:
            rows.append(
                (
                    f"  {service}",
                    [
                        f"{p.statements.get(service, float('nan')) / n:.1f} "
                        f"(+{p.transactions.get(service, float('nan')) / n:.1f})"
                        for p, n in pairs
                    ],
                )
            )
    c = bench.ceiling
    if c is not None:
        rows.append(
            (
                "claims/s ÷ PG single-row commits/s",
                [f"{100 * p.claims_per_s / c.pg_commits_per_s:.1f}%" for p in phases],
            )
        )
        rows.append(
            (
                "  commits/s used ÷ PG ceiling",
                [
                    f"{100 * p.claims_per_s * p.commits / max(p.acked, 1) / c.pg_commits_per_s:.1f}%"
                    if p.commits
                    else "n/a"
                    for p in phases
                ],
            )
        )
        rows.append(
            (
                "  messages/s ÷ Kafka produce ceiling",
                [
                    f"{100 * p.claims_per_s * p.messages / max(p.acked, 1) / c.kafka_produce_per_s:.1f}%"
                    if p.messages
                    else "n/a"
                    for p in phases
                ],
            )
        )
    width = max(len(r[0]) for r in rows) + 2
    colw = max(14, *(len(x) for x in cols), *(len(v) for _, vals in rows for v in vals)) + 2
    machine = _cpu_model()
    print()
    when = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    print(f"claims suite benchmark, {when}, {os.cpu_count()} cores, {machine}, Python {platform.python_version()}")
    print("-" * (width + colw * len(cols)))
    print(f"{'':<{width}}" + "".join(f"{x:>{colw}}" for x in cols))
    for label, vals in rows:
        print(f"{label:<{width}}" + "".join(f"{v:>{colw}}" for v in vals))
    print("-" * (width + colw * len(cols)))
    if c is not None:
        print(
            f"machine ceiling (same run): PostgreSQL {c.pg_commits_per_s:,.0f} single-row commits/s; "
            f"Kafka {c.kafka_produce_per_s:,.0f} produced/s, {c.kafka_consume_per_s:,.0f} consumed/s (1 KiB, acks=all)"
        )
    else:
        print("machine ceiling: not measured (BENCH_CEILING_SECONDS=0 or no CLAIMS_TEST_* infrastructure)")
    if bench.idle_cpu_ms_per_s:
        idle = bench.idle_cpu_ms_per_s
        commits = _fmt(bench.idle_commits_per_s)
        services = sum(idle.get(s, 0) for s in SERVICES)
        print(
            f"idle suite (its pollers), included above: {commits} commits/s, four services {services:.0f} ms CPU/s, "
            f"machine {idle['machine']:.0f} ms CPU/s busy without us (others' load)"
        )
    print(
        f"double paid: {double_paid}; payment rows: {payment_rows if payment_rows is not None else 'n/a'}; "
        f"paid another amount than {PAYABLE}: {wrong}"
    )
    for p in phases:
        if p.first_error:
            print(f"first submit error ({p.name}): {p.first_error}")
    for svc, text in bench.profiles.items():
        print(f"py-spy, {svc}, during full speed:\n{text}")
    if out := os.environ.get("BENCH_JSON"):
        Path(out).write_text(
            json.dumps(
                {
                    "phases": [asdict(p) for p in bench.phases],
                    "ceiling": asdict(c) if c else None,
                    "double_paid": double_paid,
                    "lost": lost,
                    "idle_commits_per_s": bench.idle_commits_per_s,
                    "machine": machine,
                },
                indent=2,
            )
        )
    p99 = steady.paid_ms["p99"] if steady else full.paid_ms["p99"]
    print(
        f"claims_per_s={full.claims_per_s:.1f} submit_per_s={full.submit_per_s:.1f} "
        f"p99_paid_ms={p99:.0f} lost={lost} double_paid={double_paid}"
    )
    return 1 if lost or double_paid else 0


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    """Entry point of ``make bench``."""
    sys.exit(asyncio.run(run_bench()))


if __name__ == "__main__":
    main()
