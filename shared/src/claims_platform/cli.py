"""``claims-admin``: development tokens, dead-letter replay, outbox backlog."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated

import typer

from claims_platform.auth import ROLES, mint_token
from claims_platform.settings import development_secret

app = typer.Typer(help="Administration of the claims suite.", no_args_is_help=True)


@app.command()
def token(
    role: Annotated[list[str], typer.Option("--role", "-r", help=f"One of {', '.join(sorted(ROLES))}; repeatable.")],
    sub: Annotated[str, typer.Option(help="The subject (user or system id).")] = "dev-user",
    provider_id: Annotated[str | None, typer.Option(help="For a partner token: the hospital's id.")] = None,
    member_id: Annotated[str | None, typer.Option(help="For a member token: the member's id.")] = None,
    hours: Annotated[int, typer.Option(help="Validity in hours.")] = 8,
    data_dir: Annotated[Path, typer.Option(envvar="CLAIMS_DATA_DIR", help="Where the dev secret lives.")] = Path(
        ".data"
    ),
) -> None:
    """Print a bearer token signed with CLAIMS_JWT_SECRET (or the embedded mode's generated secret)."""
    secret = os.environ.get("CLAIMS_JWT_SECRET") or development_secret(data_dir)
    try:
        typer.echo(
            mint_token(secret, sub, role, provider_id=provider_id, member_id=member_id, ttl_seconds=hours * 3600)
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


@app.command("dlq-replay")
def dlq_replay(
    topic: Annotated[str, typer.Argument(help="The source topic, e.g. claims.adjudication.v1.")],
    bootstrap: Annotated[str, typer.Option(envvar="CLAIMS_KAFKA_BOOTSTRAP_SERVERS")] = "127.0.0.1:9092",
    prefix: Annotated[str, typer.Option(envvar="CLAIMS_KAFKA_TOPIC_PREFIX")] = "",
) -> None:
    """Publish the dead letters of TOPIC back onto it, once their cause is fixed."""
    from claims_platform.bus.kafka import replay_dead_letters

    count = asyncio.run(replay_dead_letters(bootstrap, topic, topic_prefix=prefix))
    typer.echo(f"replayed {count} message(s) from {topic}.dlq")


@app.command("outbox-backlog")
def outbox_backlog(
    database_url: Annotated[str, typer.Argument(help="The service's database URL (async driver).")],
) -> None:
    """Print how many events wait in a service's outbox."""
    from sqlalchemy import func, select
    from sqlalchemy.ext.asyncio import create_async_engine

    from claims_platform.tables import outbox

    async def _count() -> int:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as conn:
                return int((await conn.execute(select(func.count()).select_from(outbox))).scalar_one())
        finally:
            await engine.dispose()

    typer.echo(str(asyncio.run(_count())))


if __name__ == "__main__":  # pragma: no cover
    app()
