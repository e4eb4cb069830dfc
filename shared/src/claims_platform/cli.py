"""``claims-admin``: development tokens, dead-letter replay, outbox backlog, loading plans and policies."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

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


def _read_document(path: Path) -> Any:
    """Parse one plans-and-policies file: JSON by its ``.json`` suffix, YAML (a superset) otherwise.

    Numbers with a fraction are kept as the decimal text written (``500.00`` stays ``"500.00"``): the API
    takes amounts and rates as decimal strings, and a float would not survive the round trip to the cent.
    """
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() == ".json":
            return json.loads(text, parse_float=str)
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
        raise typer.BadParameter(f"{path}: cannot read it as JSON: {exc}") from exc
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - pyyaml ships with the images and the dev tools
        raise typer.BadParameter(f"{path}: reading YAML needs the pyyaml package; or give a .json file") from exc
    loader: Any = type("DecimalTextLoader", (yaml.SafeLoader,), {})
    loader.add_constructor("tag:yaml.org,2002:float", lambda ld, node: ld.construct_scalar(node))
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise typer.BadParameter(f"{path}: cannot read it as YAML: {exc}") from exc


def _sections(path: Path, document: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """Check a document's shape: ``plans`` and ``policies``, each a mapping of key to request body."""
    if not isinstance(document, Mapping):
        raise typer.BadParameter(f"{path}: expected a mapping with 'plans' and/or 'policies'")
    unknown = sorted(str(k) for k in document if k not in ("plans", "policies"))
    if unknown:
        raise typer.BadParameter(f"{path}: unknown top-level key(s) {', '.join(unknown)}; use plans and policies")
    result: dict[str, dict[str, dict[str, Any]]] = {}
    for section in ("plans", "policies"):
        entries = document.get(section) or {}
        if not isinstance(entries, Mapping):
            raise typer.BadParameter(f"{path}: '{section}' must map each code to its body")
        checked: dict[str, dict[str, Any]] = {}
        for key, body in entries.items():
            if not isinstance(key, str) or not key.strip():
                raise typer.BadParameter(f"{path}: {section} key {key!r} must be a non-empty string")
            if not isinstance(body, Mapping):
                raise typer.BadParameter(f"{path}: {section}.{key} must be a mapping (the request body)")
            checked[key] = dict(body)
        result[section] = checked
    return result


def _json_safe(value: Any) -> Any:
    """YAML values as JSON: dates and times become ISO 8601 strings; everything else passes through."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat) and not isinstance(value, str):
        return isoformat()
    return value


def _problem_text(response: Any) -> str:
    """A short description of a failed answer: the problem's title, detail and fields where present."""
    try:
        body = response.json()
    except ValueError:
        return str(response.text)[:500]
    if not isinstance(body, Mapping):
        return json.dumps(body)[:500]
    parts = [str(body[k]) for k in ("title", "detail") if body.get(k)]
    for error in body.get("errors") or []:
        if isinstance(error, Mapping):
            parts.append(f"{error.get('field', '?')}: {error.get('message', '')}")
    return "; ".join(parts) or json.dumps(body)[:500]


@app.command("load-plans")
def load_plans(
    files: Annotated[
        list[Path],
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help="YAML or JSON files with 'plans' and 'policies'."
        ),
    ],
    url: Annotated[
        str, typer.Option(envvar="CLAIMS_ADMIN_ADJUDICATION_URL", help="The adjudication service's base URL.")
    ] = "http://127.0.0.1:8002",
    admin_token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="CLAIMS_ADMIN_TOKEN",
            help="A bearer token with the admin role; by default one is minted from CLAIMS_JWT_SECRET.",
        ),
    ] = None,
    data_dir: Annotated[Path, typer.Option(envvar="CLAIMS_DATA_DIR", help="Where the dev secret lives.")] = Path(
        ".data"
    ),
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each answer.")] = 30.0,
) -> None:
    """PUT every plan, then every policy, of FILES to the adjudication API (idempotent; stops at the first error).

    A file is a mapping ``{plans: {PLAN_CODE: body}, policies: {POLICY_NUMBER: body}}`` with the bodies of
    ``PUT /v1/plans/{plan_code}`` and ``PUT /v1/policies/{policy_number}``. All files are read and checked
    before anything is sent; plans go first, since policies name their plan.
    """
    import httpx

    plans: dict[str, dict[str, Any]] = {}
    policies: dict[str, dict[str, Any]] = {}
    origin: dict[tuple[str, str], Path] = {}
    for path in files:
        for section, entries in _sections(path, _read_document(path)).items():
            target = plans if section == "plans" else policies
            for key, body in entries.items():
                if (section, key) in origin:
                    raise typer.BadParameter(f"{section} {key} is defined in both {origin[section, key]} and {path}")
                origin[section, key] = path
                target[key] = _json_safe(body)
    if not plans and not policies:
        raise typer.BadParameter("the files hold no plans and no policies")
    admin_token = admin_token or _admin_token(data_dir)
    requests = [(f"/v1/plans/{quote(code, safe='')}", "plan", code, body) for code, body in plans.items()]
    requests += [
        (f"/v1/policies/{quote(number, safe='')}", "policy", number, body) for number, body in policies.items()
    ]
    headers = {"Authorization": f"Bearer {admin_token}", "Accept": "application/json"}
    with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout) as client:
        for path_, kind, key, body in requests:
            try:
                response = client.put(path_, json=body)
            except httpx.HTTPError as exc:
                typer.echo(f"{kind} {key}: cannot reach {url}: {exc}", err=True)
                raise typer.Exit(1) from exc
            if response.is_success:
                typer.echo(f"{kind} {key}: {response.status_code}")
                continue
            typer.echo(f"{kind} {key}: {response.status_code} {_problem_text(response)}", err=True)
            raise typer.Exit(1)
    typer.echo(f"loaded {len(plans)} plan(s) and {len(policies)} polic{'y' if len(policies) == 1 else 'ies'}")


def _admin_token(data_dir: Path) -> str:
    """A short-lived admin token signed with CLAIMS_JWT_SECRET (or the embedded mode's secret)."""
    secret = os.environ.get("CLAIMS_JWT_SECRET") or development_secret(data_dir)
    return mint_token(secret, "claims-admin", ["admin"], ttl_seconds=600)


@app.command("expire-claims")
def expire_claims(
    url: Annotated[
        str, typer.Option(envvar="CLAIMS_ADMIN_INTAKE_URL", help="The intake service's base URL.")
    ] = "http://127.0.0.1:8001",
    admin_token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="CLAIMS_ADMIN_TOKEN",
            help="A bearer token with the admin role; by default one is minted from CLAIMS_JWT_SECRET.",
        ),
    ] = None,
    data_dir: Annotated[Path, typer.Option(envvar="CLAIMS_DATA_DIR", help="Where the dev secret lives.")] = Path(
        ".data"
    ),
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the answer.")] = 120.0,
) -> None:
    """Run intake's expiry job now: close claims whose requested documents are overdue."""
    import httpx

    headers = {"Authorization": f"Bearer {admin_token or _admin_token(data_dir)}", "Accept": "application/json"}
    try:
        response = httpx.post(f"{url.rstrip('/')}/v1/jobs/expire", headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        typer.echo(f"cannot reach {url}: {exc}", err=True)
        raise typer.Exit(1) from exc
    if not response.is_success:
        typer.echo(f"expiry job refused: {response.status_code} {_problem_text(response)}", err=True)
        raise typer.Exit(1)
    typer.echo(f"expired {response.json()['expired']} claim(s)")


if __name__ == "__main__":  # pragma: no cover
    app()
