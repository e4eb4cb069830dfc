"""The machine's own ceiling: PostgreSQL single-row commits/s and Kafka produce/consume rates.

Run with the infrastructure of `make test` up (`scripts/infra.sh up`, then `. $(scripts/infra.sh env)`):
    .venv/bin/python bench/ceiling.py [--seconds 5]
Prints one line per figure; `bench/run.py` calls it to put the suite's rate in proportion.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic


@dataclass
class Ceiling:
    """What the machine gives at most, measured in the same run."""

    pg_commits_per_s: float
    kafka_produce_per_s: float
    kafka_consume_per_s: float


async def pg_commits(dsn: str, seconds: float, clients: int = 4) -> float:
    """Single-row INSERT transactions per second over ``clients`` connections."""
    table = f"bench_{uuid.uuid4().hex[:8]}"
    setup = await asyncpg.connect(dsn)
    await setup.execute(f"CREATE TABLE {table} (id bigserial primary key, payload text not null)")
    count = 0
    stop = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal count
        conn = await asyncpg.connect(dsn)
        try:
            while time.monotonic() < stop:
                await conn.execute(f"INSERT INTO {table} (payload) VALUES ($1)", "x" * 200)
                count += 1
        finally:
            await conn.close()

    start = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(clients)))
    elapsed = time.monotonic() - start
    await setup.execute(f"DROP TABLE {table}")
    await setup.close()
    return count / elapsed


async def kafka_rates(bootstrap: str, messages: int = 50_000, size: int = 1024) -> tuple[float, float]:
    """Messages/s produced (idempotent, acks=all) and consumed, of ``size`` bytes each."""
    topic = f"bench.ceiling.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5)
    await producer.start()
    value = b"x" * size
    await producer.partitions_for(topic)  # the new topic's metadata first: time only the sending
    start = time.monotonic()
    futures = [await producer.send(topic, value, key=str(i % 1000).encode()) for i in range(messages)]
    await asyncio.gather(*futures)
    produce_rate = messages / (time.monotonic() - start)
    await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    tps = [TopicPartition(topic, p) for p in range(6)]
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    got = 0
    start = time.monotonic()
    while got < messages:
        batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
        got += sum(len(v) for v in batch.values())
    consume_rate = got / (time.monotonic() - start)
    await consumer.stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.delete_topics([topic])
    await admin.close()
    return produce_rate, consume_rate


async def measure(seconds: float = 5.0) -> Ceiling:
    """Measure both ceilings against the test infrastructure."""
    dsn = os.environ["CLAIMS_TEST_PG_ADMIN_URL"].replace("postgresql+asyncpg", "postgresql")
    bootstrap = os.environ["CLAIMS_TEST_KAFKA_BOOTSTRAP_SERVERS"]
    commits = await pg_commits(dsn, seconds)
    produced, consumed = await kafka_rates(bootstrap)
    return Ceiling(commits, produced, consumed)


def main() -> None:
    """Print the ceiling figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    c = asyncio.run(measure(args.seconds))
    print(f"postgres_single_row_commits_per_s={c.pg_commits_per_s:.0f}")
    print(f"kafka_produce_per_s={c.kafka_produce_per_s:.0f} kafka_consume_per_s={c.kafka_consume_per_s:.0f}")


if __name__ == "__main__":
    main()
