"""What the suite's building blocks cost on this machine, one operation at a time, and the floor they set.

Run with the infrastructure of `make test` up (`make bench-floor`, or `scripts/infra.sh up` and then
`.venv/bin/python bench/floor.py`). Each figure is CPU time per operation, read from /proc for both sides
(our process and the server process: uvicorn, the PostgreSQL backend, the Kafka broker), so it holds
whatever else the machine is doing; wall time is not used. The operations are the smallest ones the suite
is made of, with nothing of ours around them:

- ``http``: a bare FastAPI app on uvicorn (uvloop, httptools) whose one route validates intake's real
  ``ClaimCreate`` body and answers 201, driven by aiohttp like the benchmark's submissions;
- ``sql``: one single-row INSERT in an open transaction, through SQLAlchemy's ``AsyncSession`` and on the
  raw asyncpg connection;
- ``txn``: an empty transaction (BEGIN, COMMIT) through ``AsyncSession``;
- ``produce``: a 1 KiB message sent and acknowledged (idempotent producer, ``acks=all``), alone and in
  runs of 100 (as the relays send them at full speed; the floor below uses the latter);
- ``commit``: one consumer-group offset commit;
- ``documents``: a claim's five documents (the worked example's tiny PDFs) written by intake's own
  ``FilesystemDocumentStore``: each new file written in place and fsynced, the folder fsynced.

The last table multiplies them by what one claim needs (the counts of a `make bench` run, passed with
``--per-claim``) to give the CPU one claim costs in these blocks alone, against the 4 ms that 500 claims/s
on two cores allows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import sys
import textwrap
import uuid
from pathlib import Path

import aiohttp
import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack import infra_pids, load_infra_env

from claims_contracts.examples import OUTPATIENT_DOCUMENTS, TINY_PDF, claim_submission
from claims_intake.storage import FilesystemDocumentStore

HTTP_PORT = 18599
APP = textwrap.dedent(
    """
    import uuid
    from fastapi import FastAPI
    from claims_intake.api.schemas import ClaimCreate

    app = FastAPI()

    @app.post("/v1/claims", status_code=201)
    async def submit(body: ClaimCreate) -> dict[str, str]:
        return {"claim_id": str(uuid.uuid4()), "status": "submitted"}
    """
)


def _own_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _cpu(pid: int) -> float:
    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


class Cost:
    """CPU µs per operation on our side and on the server's."""

    def __init__(self, name: str, n: int, ours: float, theirs: float) -> None:
        self.name, self.ours, self.theirs = name, ours / n * 1e6, theirs / n * 1e6

    @property
    def total(self) -> float:
        return self.ours + self.theirs

    def per(self, name: str, k: int) -> Cost:
        """The cost of one of the ``k`` operations each of these did."""
        return Cost(name, k, self.ours / 1e6, self.theirs / 1e6)

    def ours_only(self) -> Cost:
        """Only our side (when the "server" watched was ourselves)."""
        return Cost(self.name, 1, self.ours / 1e6, 0.0)

    def minus(self, name: str, other: Cost) -> Cost:
        """What this costs more than ``other``."""
        return Cost(name, 1, (self.ours - other.ours) / 1e6, (self.theirs - other.theirs) / 1e6)


async def _timed(name: str, n: int, server_pid: int, op) -> Cost:  # type: ignore[no-untyped-def]
    s0, o0 = _cpu(server_pid), _own_cpu()
    for i in range(n):
        await op(i)
    return Cost(name, n, _own_cpu() - o0, _cpu(server_pid) - s0)


async def http_cost(n: int) -> Cost:
    """Our (aiohttp) CPU and the server's per validated request."""
    app_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"floor-{uuid.uuid4().hex[:6]}"
    app_dir.mkdir()
    (app_dir / "floor_app.py").write_text(APP)
    args = ["--app-dir", str(app_dir), "floor_app:app", "--port", str(HTTP_PORT), "--log-level", "warning"]
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "uvicorn", *args, "--loop", "uvloop", "--http", "httptools", "--no-access-log"
    )
    try:
        body = claim_submission()
        base = f"http://127.0.0.1:{HTTP_PORT}"
        async with aiohttp.ClientSession() as client:
            for _ in range(100):
                try:
                    async with client.get(f"{base}/docs") as r:
                        await r.read()
                    break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)

            async def post(_: int) -> None:
                async with client.post(f"{base}/v1/claims", json=body) as r:
                    r.raise_for_status()
                    await r.read()

            for i in range(200):
                await post(i)
            return await _timed("http (client / server)", n, server.pid, post)
    finally:
        server.terminate()
        await server.wait()


async def sql_costs(url: str, n: int) -> list[Cost]:
    """One INSERT through AsyncSession and raw asyncpg; one empty transaction through AsyncSession."""
    table = f"floor_{uuid.uuid4().hex[:8]}"
    engine = create_async_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"CREATE TABLE {table} (id bigint primary key, payload text not null)"))
        insert = text(f"INSERT INTO {table} (id, payload) VALUES (:id, :p)")
        costs = []
        async with AsyncSession(engine) as session:
            backend = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            await session.commit()
            offset = 0

            async def orm(i: int) -> None:
                await session.execute(insert, {"id": offset + i, "p": "x" * 200})

            async with session.begin():
                await _timed("warm", 200, backend, orm)
            offset = 1_000_000
            async with session.begin():
                costs.append(await _timed("sql (AsyncSession)", n, backend, orm))
            raw_sql = f"INSERT INTO {table} (id, payload) VALUES ($1, $2)"
            async with session.begin():
                await session.execute(text("SELECT 1"))  # the driver's transaction starts with the first statement
                raw = (await (await session.connection()).get_raw_connection()).driver_connection

                async def direct(i: int) -> None:
                    await raw.execute(raw_sql, 2_000_000 + i, "x" * 200)

                costs.append(await _timed("sql (raw asyncpg)", n, backend, direct))

            async def empty(_: int) -> None:
                async with session.begin():
                    await session.execute(text("SELECT 1"))

            txn = await _timed("txn", n, backend, empty)
            one = await _timed("select", n, backend, lambda _: _select(session))
            costs.append(txn.minus("txn (BEGIN+COMMIT)", one))
        async with engine.begin() as conn:
            await conn.execute(text(f"DROP TABLE {table}"))
        return costs
    finally:
        await engine.dispose()


async def _select(session: AsyncSession) -> None:
    await session.execute(text("SELECT 1"))


async def kafka_costs(bootstrap: str, broker_pid: int, n: int) -> list[Cost]:
    """One acknowledged 1 KiB message (produced alone); one offset commit."""
    topic = f"floor.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=topic, enable_auto_commit=False)
    await producer.start()
    await consumer.start()
    try:
        value = b"x" * 1024

        async def produce(_: int) -> None:
            await producer.send_and_wait(topic, value, key=b"k")

        await _timed("warm", 200, broker_pid, produce)
        produced = await _timed("produce (one message, acks=all)", n, broker_pid, produce)

        async def produce_100(_: int) -> None:
            futures = [await producer.send(topic, value, key=b"k") for _ in range(100)]
            await asyncio.gather(*futures)

        hundreds = await _timed("produce (100)", max(1, n // 100), broker_pid, produce_100)
        batched = hundreds.per("produce (in runs of 100)", 100)
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=200)
        tp = next(iter(consumer.assignment()))

        async def commit(i: int) -> None:
            await consumer.commit({tp: i + 1})

        await _timed("warm", 100, broker_pid, commit)
        committed = await _timed("offset commit", n, broker_pid, commit)
        return [produced, batched, committed]
    finally:
        await consumer.stop()
        await producer.stop()
        await admin.delete_topics([topic])
        await admin.close()


async def documents_cost(n: int) -> Cost:
    """Our CPU (worker thread included) to store one claim's five documents durably."""
    root = Path(os.environ.get("TMPDIR", "/tmp")) / f"floor-docs-{uuid.uuid4().hex[:6]}"
    store = FilesystemDocumentStore(root)

    async def put(_: int) -> None:
        claim = f"C-{uuid.uuid4().hex[:12]}"
        await store.put_many([(f"{claim}/DOC-{kind}", TINY_PDF) for kind in OUTPATIENT_DOCUMENTS])

    runs = max(1, n // 5)
    try:
        cost = await _timed("documents (a claim's five)", runs, os.getpid(), put)
        return cost.ours_only()
    finally:
        await asyncio.to_thread(shutil.rmtree, root, True)


def _per_claim(spec: str) -> dict[str, float]:
    counts = {"http": 1.0, "documents": 1.0, "sql": 27.9, "txn": 4.3, "produce": 9.0, "commit": 0.0}
    for part in filter(None, spec.split(",")):
        key, _, value = part.partition("=")
        counts[key.strip()] = float(value)
    return counts


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=2000, help="operations per figure (2000)")
    parser.add_argument(
        "--per-claim",
        default="",
        help="what one claim needs, e.g. 'sql=37.4,txn=4.4,produce=9,commit=0' (default: a full-speed make bench)",
    )
    args = parser.parse_args()
    load_infra_env()
    pids = infra_pids()
    costs: list[Cost] = []
    http = await http_cost(args.n)
    costs.append(http)
    costs += await sql_costs(os.environ["CLAIMS_TEST_INTAKE_DATABASE_URL"], args.n)
    costs += await kafka_costs(os.environ["CLAIMS_TEST_KAFKA_BOOTSTRAP_SERVERS"], pids["kafka"], args.n)
    documents = await documents_cost(args.n)
    costs.append(documents)

    print(f"\nbuilding blocks, CPU µs per operation ({args.n} each; ours / server's / both)")
    for c in costs:
        print(f"  {c.name:34} {c.ours:8.0f} {c.theirs:8.0f} {c.total:8.0f}")
    print("  (the http client is the benchmark's part: only the server's share counts below)")

    blocks = {
        "http": http.theirs,
        "sql": costs[1].total,
        "txn": costs[3].total,
        "produce": costs[5].total,
        "commit": costs[6].total,
        "documents": documents.total,
    }
    counts = _per_claim(args.per_claim)
    print("\none claim in these blocks alone (count x µs; no handler logic, no ORM, no consumer fetches)")
    total = 0.0
    for key, count in counts.items():
        part = count * blocks[key]
        total += part
        print(f"  {key:9} {count:6.1f} x {blocks[key]:6.0f} µs = {part / 1000:6.2f} ms")
    print(f"  total {total / 1000:.2f} ms of CPU per claim → at most {2000 / (total / 1000):.0f} claims/s on 2 cores")
    print("  500 claims/s on 2 cores allows 4.00 ms per claim, for everything")
    submit = blocks["http"] + blocks["documents"]
    print(
        f"\none submission before any SQL (the request, its five documents): {submit / 1000:.2f} ms"
        f" → at most {2e6 / submit:.0f}/s on 2 cores; with the benchmark's http client on the same machine"
        f" ({http.ours:.0f} µs a request): {2e6 / (submit + http.ours):.0f}/s. The target is 1,500/s."
    )


if __name__ == "__main__":
    try:
        import uvloop

    except ImportError:  # pragma: no cover
        asyncio.run(main())
    else:
        uvloop.run(main())
