"""Apache Kafka bus on aiokafka: idempotent producer, manual offset commits, dead-letter topics."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from claims_contracts.topics import ALL_TOPICS, dlq_topic
from claims_platform.bus.base import BatchHandler, Message, MessageHandler, dead_letter_headers, without_dlq_headers
from claims_platform.logging import get_logger

log = get_logger(__name__)

REPLAY_GROUP = "claims-dlq-replay"
"""The consumer group whose committed offsets mark how far ``dlq-replay`` got on each dead-letter topic."""


def _message(rec: ConsumerRecord[bytes, bytes]) -> Message:
    return Message(
        topic=rec.topic,
        key=rec.key,
        value=rec.value or b"",
        headers=tuple((k, bytes(v)) for k, v in (rec.headers or ())),
        partition=rec.partition,
        offset=rec.offset,
    )


@dataclass
class _Subscription:
    group: str
    topics: tuple[str, ...]
    handler: MessageHandler
    task: asyncio.Task[None] | None = None


async def ensure_topics(
    bootstrap_servers: str, topics: Sequence[str], *, partitions: int, replication_factor: int
) -> None:
    """Create the topics that do not exist yet."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="claims-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(t, num_partitions=partitions, replication_factor=replication_factor) for t in missing]
                )
    finally:
        await admin.close()


class KafkaBus:
    """The bus of the full mode."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        client_id: str,
        partitions: int = 6,
        replication_factor: int = 1,
        topics: Sequence[str] = ALL_TOPICS,
        max_poll_records: int = 500,
        topic_prefix: str = "",
        batch_size: int = 100,
        commit_interval: float = 1.0,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.client_id = client_id
        self.partitions = partitions
        self.replication_factor = replication_factor
        self.topics = tuple(topics)
        self.max_poll_records = max_poll_records
        self.topic_prefix = topic_prefix
        self.batch_size = batch_size
        self.commit_interval = commit_interval
        self._producer: AIOKafkaProducer | None = None
        self._subs: list[_Subscription] = []
        self._running = False
        self._lag: dict[str, int] = {}
        self._observer: tuple[AIOKafkaAdminClient, AIOKafkaConsumer] | None = None
        self._observer_lock = asyncio.Lock()

    def _physical(self, topic: str) -> str:
        return self.topic_prefix + topic

    def _logical(self, topic: str) -> str:
        return topic[len(self.topic_prefix) :] if topic.startswith(self.topic_prefix) else topic

    def _new_producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            client_id=self.client_id,
            enable_idempotence=True,
            acks="all",
            linger_ms=2,
            request_timeout_ms=15000,
        )

    async def start(self) -> None:
        """Create missing topics, start the producer and one consumer task per group."""
        if self._running:
            return
        await ensure_topics(
            self.bootstrap_servers,
            [self._physical(t) for t in (*self.topics, *(dlq_topic(t) for t in self.topics))],
            partitions=self.partitions,
            replication_factor=self.replication_factor,
        )
        self._running = True
        await self._ready_producer()
        for sub in self._subs:
            sub.task = asyncio.create_task(self._consume(sub), name=f"kafka:{sub.group}")

    async def stop(self) -> None:
        """Stop the consumers, then flush and close the producer."""
        self._running = False
        tasks = [s.task for s in self._subs if s.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
        await self._close_observer()

    def subscribe(self, group: str, topics: Sequence[str], handler: MessageHandler) -> None:
        """Register a consumer group; it starts with the bus."""
        sub = _Subscription(group, tuple(topics), handler)
        self._subs.append(sub)
        if self._running:
            sub.task = asyncio.create_task(self._consume(sub), name=f"kafka:{group}")

    async def _ready_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = self._new_producer()
            await producer.start()
            self._producer = producer
        return self._producer

    async def publish(self, messages: Sequence[Message]) -> None:
        """Send in order and wait for every acknowledgement (acks=all)."""
        if not self._running:
            raise RuntimeError("the Kafka bus is not started")
        producer = await self._ready_producer()
        try:
            futures = [
                await producer.send(self._physical(m.topic), m.value, key=m.key, headers=list(m.headers))
                for m in messages
            ]
            await asyncio.gather(*futures)
        except KafkaError:
            # A producer that failed mid-batch may hold a stale sequence: the next call starts a fresh one.
            if self._producer is producer:
                self._producer = None
            with contextlib.suppress(Exception):
                await producer.stop()
            raise

    async def dead_letter(self, group: str, message: Message, error: str) -> None:
        """Publish to ``<topic>.dlq`` with the error and origin in headers; waits for the ack."""
        dead = Message(
            topic=dlq_topic(message.topic),
            key=message.key,
            value=message.value,
            headers=dead_letter_headers(group, message, error),
        )
        while True:
            try:
                await self.publish([dead])
                return
            except KafkaError as exc:
                log.warning("dead-letter publish failed; retrying", error=str(exc))
                await asyncio.sleep(1.0)

    async def ready(self) -> bool:
        """Whether the cluster answers a metadata request."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers, request_timeout_ms=3000)
        try:
            await asyncio.wait_for(admin.start(), 3)
            await asyncio.wait_for(admin.describe_cluster(), 3)
            return True
        except Exception:
            return False
        finally:
            with contextlib.suppress(Exception):
                await admin.close()

    def lag(self) -> dict[str, int]:
        """Messages not yet consumed and committed, per group, as of the last ``refresh_lag``."""
        return dict(self._lag)

    async def refresh_lag(self) -> dict[str, int]:
        """Per consumer group of this bus: messages of its topics past the group's committed offsets.

        Counted for the whole group (every partition, whoever holds it), from the brokers' end offsets
        and the group's commits, so every replica reports the same number and a stuck or dead member's
        partitions count too.
        """
        if not self._running or not self._subs:
            return dict(self._lag)
        topics = {t for sub in self._subs for t in sub.topics}
        tps = await self._partitions([self._physical(t) for t in sorted(topics)])
        for sub in self._subs:
            mine = {self._physical(t) for t in sub.topics}
            left = await self._unconsumed(self.topic_prefix + sub.group, [tp for tp in tps if tp.topic in mine])
            self._lag[sub.group] = sum(left.values())
        return dict(self._lag)

    async def dead_letter_counts(self, topics: Sequence[str]) -> dict[str, int]:
        """Per source topic: messages on its dead-letter topic that ``dlq-replay`` has not replayed yet."""
        counts = dict.fromkeys(topics, 0)
        if not self._running or not topics:
            return counts
        dlqs = {self._physical(dlq_topic(t)): t for t in topics}
        tps = await self._partitions(list(dlqs))
        for tp, left in (await self._unconsumed(REPLAY_GROUP, tps)).items():
            counts[dlqs[tp.topic]] += left
        return counts

    async def _observer_clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        """An admin client and a group-less reader, kept for the metrics (one connection, not one per scrape)."""
        async with self._observer_lock:
            if self._observer is None:
                admin = AIOKafkaAdminClient(
                    bootstrap_servers=self.bootstrap_servers, client_id=f"{self.client_id}:metrics"
                )
                reader = AIOKafkaConsumer(
                    bootstrap_servers=self.bootstrap_servers,
                    client_id=f"{self.client_id}:metrics",
                    enable_auto_commit=False,
                )
                try:
                    await admin.start()
                    await reader.start()
                except BaseException:
                    with contextlib.suppress(Exception):
                        await admin.close()
                    with contextlib.suppress(Exception):
                        await reader.stop()
                    raise
                self._observer = (admin, reader)
            return self._observer

    async def _close_observer(self) -> None:
        if self._observer is not None:
            admin, reader = self._observer
            self._observer = None
            with contextlib.suppress(Exception):
                await reader.stop()
            with contextlib.suppress(Exception):
                await admin.close()

    async def _partitions(self, physical_topics: Sequence[str]) -> list[TopicPartition]:
        _, reader = await self._observer_clients()
        cluster = await reader._client.fetch_all_metadata()
        return [
            TopicPartition(topic, p)
            for topic in physical_topics
            for p in sorted(cluster.partitions_for_topic(topic) or ())
        ]

    async def _unconsumed(self, group: str, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        """Per partition: end offset minus the group's committed offset (or the log start, if none)."""
        if not tps:
            return {}
        admin, reader = await self._observer_clients()
        starts = await reader.beginning_offsets(tps)
        ends = await reader.end_offsets(tps)
        committed = await admin.list_consumer_group_offsets(group, partitions=tps)
        left: dict[TopicPartition, int] = {}
        for tp in tps:
            start = starts.get(tp, 0)
            done = committed.get(tp)
            base = max(start, done.offset) if done is not None and done.offset >= 0 else start
            left[tp] = max(0, ends.get(tp, start) - base)
        return left

    async def _consume(self, sub: _Subscription) -> None:
        while self._running:
            consumer = AIOKafkaConsumer(
                *(self._physical(t) for t in sub.topics),
                bootstrap_servers=self.bootstrap_servers,
                group_id=self.topic_prefix + sub.group,
                client_id=f"{self.client_id}:{sub.group}",
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_poll_records=self.max_poll_records,
            )
            try:
                await consumer.start()
                await self._poll(sub, consumer)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("Kafka consumer restarting", group=sub.group, error=str(exc))
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(Exception):
                    await consumer.stop()

    async def _poll(self, sub: _Subscription, consumer: AIOKafkaConsumer) -> None:
        """Fetch, handle, and commit how far each partition got.

        Offsets are committed in one request for all of the group's partitions, at most every
        ``commit_interval`` seconds while events keep coming, as soon as a poll comes back empty (every
        partition caught up), and when the consumer stops. An offset commit costs the broker about as much
        as a whole event, so committing after every run cost more than the events themselves at low rates.
        What a crash leaves uncommitted (at most ``commit_interval`` of events) is delivered again and the
        inbox makes it a duplicate. ``commit_interval`` 0 commits after every poll.
        """
        loop = asyncio.get_running_loop()
        done: dict[TopicPartition, int] = {}
        last_commit = loop.time()
        try:
            while self._running:
                batches = await consumer.getmany(timeout_ms=500, max_records=self.max_poll_records)
                # Partitions are independent (one claim lives in one partition): handle them side by side,
                # each in order.
                runs = [self._partition(sub, records) for records in batches.values()]
                done.update(zip(batches, await asyncio.gather(*runs), strict=True))
                if done and (not batches or loop.time() - last_commit >= self.commit_interval):
                    await self._commit(consumer, done)
                    done = {}
                    last_commit = loop.time()
        finally:
            if done:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.wait_for(self._commit(consumer, done), 5)

    async def _partition(self, sub: _Subscription, records: list[Any]) -> int:
        """Hand a partition's records over in order, up to ``batch_size`` at a time; the offset to commit."""
        handler = sub.handler
        for start in range(0, len(records), self.batch_size):
            chunk = records[start : start + self.batch_size]
            messages = [replace(m, topic=self._logical(m.topic)) for m in map(_message, chunk)]
            if isinstance(handler, BatchHandler) and len(messages) > 1:
                await handler.handle_batch(messages)
            else:
                for message in messages:
                    await handler(message)
        return int(records[-1].offset) + 1

    @staticmethod
    async def _commit(consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        """Commit the partitions still assigned to this member; the others went to another one, which
        starts from their last commit (the inbox makes that harmless)."""
        mine = consumer.assignment()
        offsets = {tp: offset for tp, offset in offsets.items() if tp in mine}
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except KafkaError as exc:
            log.warning("offset commit failed", partitions=len(offsets), error=str(exc))


async def replay_dead_letters(
    bootstrap_servers: str,
    topic: str,
    *,
    group: str = REPLAY_GROUP,
    timeout_s: float = 10.0,
    topic_prefix: str = "",
) -> int:
    """Publish the dead letters of ``topic`` not yet replayed back onto ``topic``; returns how many.

    Only what was on the dead-letter topic when the command started is replayed, so a message that
    fails again lands there once more instead of looping. Progress is committed under ``group``.
    """
    dlq = topic_prefix + dlq_topic(topic)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=group, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, enable_idempotence=True, acks="all")
    await consumer.start()
    await producer.start()
    count = 0
    try:
        cluster = await consumer._client.fetch_all_metadata()
        partitions = cluster.partitions_for_topic(dlq) or set()
        tps = [TopicPartition(dlq, p) for p in sorted(partitions)]
        if not tps:
            return 0
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            committed = await consumer.committed(tp)
            if committed is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, committed)
        pending = {tp for tp in tps if await consumer.position(tp) < ends[tp]}
        deadline = asyncio.get_running_loop().time() + timeout_s
        while pending and asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(*pending, timeout_ms=500)
            for tp, records in batches.items():
                upto = [r for r in records if r.offset < ends[tp]]
                for rec in upto:
                    msg = _message(rec)
                    source = msg.header("dlq.source_topic") or topic
                    await producer.send_and_wait(
                        topic_prefix + source, msg.value, key=msg.key, headers=list(without_dlq_headers(msg.headers))
                    )
                    count += 1
                if upto:
                    await consumer.commit({tp: upto[-1].offset + 1})
                if not upto or upto[-1].offset + 1 >= ends[tp]:
                    pending.discard(tp)
    finally:
        await consumer.stop()
        await producer.stop()
    return count
