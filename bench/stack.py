"""The stack under test: the infrastructure's environment, and the four services started on fresh state.

Either `bench/run.py` starts everything itself (``scripts/infra.sh up``, then the four services as
processes on fresh databases and a fresh topic prefix, as the end-to-end tests do), or the ``BENCH_*``
variables point at a running stack (see :func:`external_stack`).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet

from claims_platform.localstack import LocalSuite, create_databases, drop_databases, service_env

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "scripts" / "infra.sh"
SERVICES = ("intake", "adjudication", "payment", "notification")
PORTS = {"intake": 18501, "adjudication": 18502, "payment": 18503, "notification": 18504}


@dataclass
class Stack:
    """Where the services answer and what the bench may inspect."""

    urls: dict[str, str]
    kafka_bootstrap: str
    topic_prefix: str
    jwt_secret: str
    pids: dict[str, int] = field(default_factory=dict)
    pg_admin_url: str | None = None
    databases: dict[str, str] = field(default_factory=dict)  # service -> database name (for stats)
    payment_dsn: str | None = None  # asyncpg DSN of payment's database (for the double-payment check)
    suite: LocalSuite | None = None
    tag: str | None = None
    work_dir: Path | None = None
    owned: bool = False

    def close(self, keep: bool = False) -> None:
        """Stop what this bench started and drop its databases (unless ``keep``)."""
        if not self.owned or self.suite is None:
            return
        self.suite.stop_all()
        if keep:
            return
        if self.pg_admin_url and self.tag:
            drop_databases(self.pg_admin_url, self.tag, list(SERVICES))
        if self.work_dir is not None:
            shutil.rmtree(self.work_dir, ignore_errors=True)


def load_infra_env() -> None:
    """``scripts/infra.sh up`` (install where absent, reuse where running), then read its env file."""
    subprocess.run([str(INFRA), "up"], check=True)
    path = subprocess.run([str(INFRA), "env"], check=True, capture_output=True, text=True).stdout.strip()
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line.startswith("export "):
            continue
        key, _, value = line[len("export ") :].partition("=")
        os.environ[key] = shlex.split(value)[0] if value else ""


def asyncpg_dsn(url: str) -> str:
    """A SQLAlchemy ``postgresql+asyncpg://`` URL as an asyncpg DSN."""
    return url.replace("postgresql+asyncpg://", "postgresql://").replace("postgresql+psycopg2://", "postgresql://")


def external_stack() -> Stack | None:
    """A running stack named by the environment, or None.

    ``BENCH_INTAKE_URL``, ``BENCH_ADJUDICATION_URL`` (plans and policies), ``BENCH_KAFKA_BOOTSTRAP``,
    ``BENCH_JWT_SECRET``; optional ``BENCH_TOPIC_PREFIX``, ``BENCH_PAYMENT_URL``, ``BENCH_NOTIFICATION_URL``,
    ``BENCH_PAYMENT_DATABASE_URL`` (double-payment check on the rows), ``BENCH_SERVICE_PIDS``
    (``intake=123,payment=456``: CPU per claim), ``BENCH_PG_ADMIN_URL`` (commit counts).
    """
    intake = os.environ.get("BENCH_INTAKE_URL")
    if not intake:
        return None
    missing = [
        k for k in ("BENCH_ADJUDICATION_URL", "BENCH_KAFKA_BOOTSTRAP", "BENCH_JWT_SECRET") if k not in os.environ
    ]
    if missing:
        raise SystemExit(f"BENCH_INTAKE_URL is set, so these are needed too: {', '.join(missing)}")
    urls = {"intake": intake, "adjudication": os.environ["BENCH_ADJUDICATION_URL"]}
    for service in ("payment", "notification"):
        if url := os.environ.get(f"BENCH_{service.upper()}_URL"):
            urls[service] = url
    pids = {}
    for item in filter(None, os.environ.get("BENCH_SERVICE_PIDS", "").split(",")):
        name, _, pid = item.partition("=")
        pids[name.strip()] = int(pid)
    payment_db = os.environ.get("BENCH_PAYMENT_DATABASE_URL")
    return Stack(
        urls=urls,
        kafka_bootstrap=os.environ["BENCH_KAFKA_BOOTSTRAP"],
        topic_prefix=os.environ.get("BENCH_TOPIC_PREFIX", ""),
        jwt_secret=os.environ["BENCH_JWT_SECRET"],
        pids=pids,
        pg_admin_url=os.environ.get("BENCH_PG_ADMIN_URL"),
        payment_dsn=asyncpg_dsn(payment_db) if payment_db else None,
    )


def service_settings(tag: str, data_dir: Path, databases: dict[str, str]) -> dict[str, str]:
    """The services' environment: the end-to-end tests' keys, quiet logs, no artificial delays; the pollers at
    their defaults (the relays and workers are woken by the commits that give them work, and poll only for
    what is due later)."""
    env = service_env()
    env.update(
        {
            "CLAIMS_ENV": "test",
            "CLAIMS_JWT_SECRET": os.environ["CLAIMS_TEST_JWT_SECRET"],
            "CLAIMS_KAFKA_BOOTSTRAP_SERVERS": os.environ["CLAIMS_TEST_KAFKA_BOOTSTRAP_SERVERS"],
            "CLAIMS_KAFKA_TOPIC_PREFIX": f"{tag}.",
            "CLAIMS_KAFKA_TOPIC_PARTITIONS": os.environ.get("BENCH_PARTITIONS", "6"),
            "CLAIMS_DATA_DIR": str(data_dir),
            "CLAIMS_LOG_FORMAT": "json",
            "CLAIMS_LOG_LEVEL": "WARNING",
            "CLAIMS_INTAKE_PII_KEY": Fernet.generate_key().decode(),
            "CLAIMS_PAYMENT_ACCOUNT_KEY": Fernet.generate_key().decode(),
            "CLAIMS_PAYMENT_BANK_SETTLEMENT_DELAY_SECONDS": "0",
            "CLAIMS_NOTIFICATION_SURVEY_SECRET": Fernet.generate_key().decode(),
        }
    )
    # BENCH_ENV_CLAIMS_X=v sets CLAIMS_X=v for the services (to compare settings run against run).
    env.update({k.removeprefix("BENCH_ENV_"): v for k, v in os.environ.items() if k.startswith("BENCH_ENV_CLAIMS_")})
    for service, port in PORTS.items():
        env[f"CLAIMS_{service.upper()}_PORT"] = str(port)
        env[f"CLAIMS_{service.upper()}_DATABASE_URL"] = databases[service]
    return env


def local_stack(start_infra: bool = True) -> Stack:
    """Start the infrastructure (or reuse it) and the four services on fresh databases and topics."""
    if start_infra:
        load_infra_env()
    tag = f"bench_{uuid.uuid4().hex[:8]}"
    admin = os.environ["CLAIMS_TEST_PG_ADMIN_URL"]
    own = {s: os.environ[f"CLAIMS_TEST_{s.upper()}_DATABASE_URL"] for s in SERVICES}
    databases = create_databases(admin, tag, own)
    work_dir = Path(tempfile.mkdtemp(prefix=f"{tag}-"))
    urls = {s: f"http://127.0.0.1:{p}" for s, p in PORTS.items()}
    suite = LocalSuite(urls, service_settings(tag, work_dir, databases), work_dir)
    stack = Stack(
        urls=dict(suite.urls),
        kafka_bootstrap=os.environ["CLAIMS_TEST_KAFKA_BOOTSTRAP_SERVERS"],
        topic_prefix=f"{tag}.",
        jwt_secret=os.environ["CLAIMS_TEST_JWT_SECRET"],
        pg_admin_url=admin,
        databases={s: f"{tag}_{s}" for s in SERVICES},
        payment_dsn=asyncpg_dsn(admin.rsplit("/", 1)[0] + f"/{tag}_payment"),
        suite=suite,
        tag=tag,
        work_dir=work_dir,
        owned=True,
    )
    try:
        for service in SERVICES:
            suite.start(service)
    except BaseException:
        stack.close()
        raise
    stack.pids = {s: p.pid for s, p in suite.procs.items()}
    return stack


def infra_pids() -> dict[str, int]:
    """The PostgreSQL postmaster and Kafka broker of ``scripts/infra.sh``, where their pid files say."""
    infra_dir = Path(os.environ.get("CLAIMS_INFRA_DIR", "/tmp/claims-infra"))
    pids = {}
    for name, path in (("postgres", infra_dir / "pg/data/postmaster.pid"), ("kafka", infra_dir / "kafka/pid")):
        try:
            pids[name] = int(path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return pids
