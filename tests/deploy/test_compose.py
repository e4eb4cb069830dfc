"""deploy/ checked statically against the code: no Docker engine runs here, so nothing is started.

The settings classes are imported, not copied: a variable that the compose file sets must be read by a
field of that service's settings, whatever fields the services grow.
"""

from __future__ import annotations

import importlib
import re
import shlex
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.fernet import Fernet
from pydantic import AliasChoices, SecretStr

from claims_contracts.topics import ALL_TOPICS, dlq_topic
from claims_platform.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SERVICES = ("intake", "adjudication", "payment", "notification")
# Secrets that must never have a default; .env.example leaves every secret empty.
REQUIRED_SECRETS = (
    "CLAIMS_JWT_SECRET",
    "CLAIMS_PG_ADMIN_PASSWORD",
    *(f"CLAIMS_PG_{s.upper()}_PASSWORD" for s in SERVICES),
)

_VAR = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariable(Exception):
    """A ``${VAR:?message}`` whose variable is unset or empty."""


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Docker compose's interpolation of one string (``$$``, ``${V}``, ``${V:-d}``, ``${V:?m}``, ...)."""

    def _one(m: re.Match[str]) -> str:
        if m["escaped"]:
            return "$"
        name = m["name"] or m["bare"]
        op, arg = m["op"], m["arg"] or ""
        current = env.get(name)
        if op in (":-", "-"):
            return current if (current if op == ":-" else current is not None) else arg
        if op in (":?", "?"):
            if current is None or (op == ":?" and current == ""):
                raise MissingVariable(f"{name}: {arg}")
            return current
        if op in (":+", "+"):
            return arg if (current if op == ":+" else current is not None) else ""
        return current or ""

    return _VAR.sub(_one, value)


def resolve(node: Any, env: Mapping[str, str]) -> Any:
    """Interpolate every string of a parsed compose document."""
    if isinstance(node, dict):
        return {k: resolve(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(v, env) for v in node]
    if isinstance(node, str):
        return interpolate(node, env)
    return node


def read_env_file(path: Path) -> dict[str, str]:
    """A compose ``.env`` file: KEY=VALUE lines, comments and blank lines skipped."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not KEY=VALUE: {line!r}"
        values[key.strip()] = value.strip().strip("'\"")
    return values


def variables_used(node: Any) -> Iterator[str]:
    """Names of the variables a compose document interpolates."""
    if isinstance(node, dict):
        for v in node.values():
            yield from variables_used(v)
    elif isinstance(node, list):
        for v in node:
            yield from variables_used(v)
    elif isinstance(node, str):
        for m in _VAR.finditer(node):
            if not m["escaped"]:
                yield m["name"] or m["bare"]


def environment_of(service: Mapping[str, Any]) -> dict[str, str]:
    """A compose service's environment, from the mapping or the list form."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def settings_class(service: str) -> type[ServiceSettings]:
    """The settings class of a service, found by importing its config module."""
    module = importlib.import_module(f"claims_{service}.config")
    found = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, ServiceSettings) and obj.service_name == service
    ]
    assert len(found) == 1, f"claims_{service}.config should define one settings class for {service}"
    return found[0]


def accepted_names(cls: type[ServiceSettings]) -> dict[str, str]:
    """Every environment variable name that a settings class reads, mapped to its field."""
    names: dict[str, str] = {}
    prefix = f"CLAIMS_{cls.service_name.upper()}_"
    for field_name, field in cls.model_fields.items():
        alias = field.validation_alias or field.alias
        if isinstance(alias, str):
            names[alias.upper()] = field_name
        elif isinstance(alias, AliasChoices):
            names.update({c.upper(): field_name for c in alias.choices if isinstance(c, str)})
        else:
            names[f"{prefix}{field_name}".upper()] = field_name
            names[f"CLAIMS_{field_name}".upper()] = field_name
    return names


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    document = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def example_env() -> dict[str, str]:
    return read_env_file(DEPLOY / ".env.example")


@pytest.fixture(scope="module")
def secrets(example_env: dict[str, str]) -> dict[str, str]:
    """What an operator puts in deploy/.env for its secrets (passwords, secrets, keys: a Fernet key for keys)."""
    names = [name for name in example_env if re.search(r"(SECRET|PASSWORD|_KEY)$", name)]
    filled = [name for name in names if example_env[name]]
    assert not filled, f".env.example must leave every secret empty: {filled}"
    return {
        name: Fernet.generate_key().decode() if name.endswith("_KEY") else f"{name.lower()}-0123456789abcdef0123456789"
        for name in names
    }


@pytest.fixture(scope="module")
def compose(raw: dict[str, Any], example_env: dict[str, str], secrets: dict[str, str]) -> dict[str, Any]:
    """The compose file as docker compose would see it with .env.example and its secrets filled in."""
    return resolve({k: v for k, v in raw.items() if not k.startswith("x-")}, {**example_env, **secrets})


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture
def built(services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> dict[str, ServiceSettings]:
    """Each service's settings, built from exactly the environment its container gets."""
    import os

    result: dict[str, ServiceSettings] = {}
    for service in SERVICES:
        for name in [n for n in os.environ if n.upper().startswith("CLAIMS_")]:
            monkeypatch.delenv(name)
        for name, value in environment_of(services[service]).items():
            monkeypatch.setenv(name, value)
        result[service] = settings_class(service)()
    return result


def one_shots(services: dict[str, dict[str, Any]]) -> set[str]:
    return {name for name, svc in services.items() if str(svc.get("restart", "")).lower() == "no"}


# --- environment ------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_every_claims_variable_of_a_service_is_read_by_its_settings(services, service):
    accepted = accepted_names(settings_class(service))
    for container in (service, f"{service}-migrate"):
        names = [n for n in environment_of(services[container]) if n.upper().startswith("CLAIMS_")]
        assert names, f"{container} sets no CLAIMS_ variable"
        unknown = sorted(n for n in names if n.upper() not in accepted)
        assert not unknown, f"{container} sets {unknown}, which no field of {settings_class(service).__name__} reads"
        other = [s for s in SERVICES if s != service]
        foreign = [n for n in names if any(n.upper().startswith(f"CLAIMS_{o.upper()}_") for o in other)]
        assert not foreign, f"{container} sets another service's variables: {foreign}"


def test_migration_jobs_get_the_same_environment_and_image_as_their_service(services):
    for service in SERVICES:
        server, job = services[service], services[f"{service}-migrate"]
        assert environment_of(job) == environment_of(server)
        assert job["image"] == server["image"]
        assert job["build"] == server["build"]
        assert job.get("command") == ["migrate"]


def test_the_container_environment_builds_valid_production_settings(built, services, secrets):
    kafka_env = environment_of(services["kafka"])
    advertised = {
        listener.split("://", 1)[1] for listener in kafka_env["KAFKA_ADVERTISED_LISTENERS"].split(",") if listener
    }
    for service, settings in built.items():
        assert settings.environment == "production"
        assert settings.host == "0.0.0.0"
        assert settings.migrate_on_start is False, f"{service} must leave migrations to {service}-migrate"
        assert settings.log_format == "json"
        assert settings.resolved_jwt_secret() == secrets["CLAIMS_JWT_SECRET"]
        url = settings.database_url or ""
        assert url.startswith("postgresql+asyncpg://"), url
        m = re.match(r"postgresql\+asyncpg://([^:]+):([^@]+)@([^:/]+):(\d+)/(\w+)$", url)
        assert m, url
        user, password, host, port, database = m.groups()
        assert (user, database) == (f"claims_{service}", f"claims_{service}")
        assert password == secrets[f"CLAIMS_PG_{service.upper()}_PASSWORD"]
        assert host in services
        assert int(port) == 5432
        servers = (settings.kafka_bootstrap_servers or "").split(",")
        assert servers, service
        assert all(s in advertised for s in servers), (servers, advertised)


def test_secrets_have_no_defaults(raw, example_env, secrets):
    assert set(REQUIRED_SECRETS) <= set(secrets), f"missing from .env.example: {set(REQUIRED_SECRETS) - set(secrets)}"
    text = (DEPLOY / "docker-compose.yml").read_text()
    for name in secrets:
        uses = re.findall(r"\$\{" + name + r"([^}]*)\}", text)
        assert uses, f"{name} is never used"
        assert all(u.startswith(":?") for u in uses), f"{name} must be required (${{{name}:?…}}), not defaulted"
    with pytest.raises(MissingVariable, match="CLAIMS_JWT_SECRET"):
        resolve(raw, example_env)


@pytest.mark.parametrize("service", SERVICES)
def test_every_secret_setting_the_compose_file_sets_comes_from_a_required_variable(raw, service):
    cls = settings_class(service)
    accepted = accepted_names(cls)
    for name, value in environment_of(raw["services"][service]).items():
        field = accepted.get(name.upper())
        if field is None:
            continue  # reported by test_every_claims_variable_of_a_service_is_read_by_its_settings
        annotation = str(cls.model_fields[field].annotation)
        if "SecretStr" in annotation or cls.model_fields[field].annotation is SecretStr:
            assert re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]*\}", value), f"{service}: {name} must be ${{VAR:?…}}"


def test_every_variable_the_compose_file_reads_is_in_the_env_example(raw, example_env):
    used = set(variables_used({k: v for k, v in raw.items()}))
    assert used <= set(example_env), f"not in .env.example: {sorted(used - set(example_env))}"
    assert set(example_env) <= used, f"in .env.example but unused: {sorted(set(example_env) - used)}"


# --- ports, health, order ---------------------------------------------------------------------------


def test_ports_agree_with_the_code(built, services):
    prometheus = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    scraped: dict[str, set[tuple[str, int]]] = {}
    for job in prometheus["scrape_configs"]:
        assert job.get("metrics_path", "/metrics") == "/metrics"
        targets = scraped.setdefault(job["job_name"], set())
        for sd in job.get("dns_sd_configs", []):
            targets.update((name, int(sd["port"])) for name in sd["names"])
        for static in job.get("static_configs", []):
            targets.update((t.rsplit(":", 1)[0], int(t.rsplit(":", 1)[1])) for t in static["targets"])
    for service, settings in built.items():
        port = settings.listen_port
        assert port == settings_class(service).default_port
        published = {int(str(p).rsplit(":", 1)[1]) for p in services[service].get("ports", [])}
        assert published == {port}, f"{service} publishes {published}, listens on {port}"
        probe = " ".join(services[service]["healthcheck"]["test"])
        assert f"127.0.0.1:{port}/health/ready" in probe, probe
        assert scraped.get(service) == {(service, port)}, f"prometheus scrapes {scraped.get(service)} for {service}"


def test_every_long_running_container_has_a_healthcheck(services):
    for name, svc in services.items():
        if name in one_shots(services):
            continue
        check = svc.get("healthcheck") or {}
        assert not check.get("disable"), name
        test = check.get("test")
        assert isinstance(test, list), (name, test)
        assert test[0] in ("CMD", "CMD-SHELL"), (name, test)
        assert len(test) > 1, (name, test)


def test_dependencies_wait_for_health_or_completion(services):
    shots = one_shots(services)
    assert {"kafka-init", *(f"{s}-migrate" for s in SERVICES)} <= shots
    for name, svc in services.items():
        depends = svc.get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions"
        for dep, spec in depends.items():
            assert dep in services, f"{name} depends on unknown {dep}"
            wanted = "service_completed_successfully" if dep in shots else "service_healthy"
            assert spec.get("condition") == wanted, f"{name} -> {dep}: {spec}"
    for service in SERVICES:
        depends = services[service]["depends_on"]
        assert {"postgres", "kafka", "kafka-init", f"{service}-migrate"} <= set(depends), service
        assert "postgres" in services[f"{service}-migrate"]["depends_on"]
    assert "kafka" in services["kafka-init"]["depends_on"]
    assert "mailpit" in services["notification"]["depends_on"]


# --- images ------------------------------------------------------------------------------------------


def _tag(image: str) -> str:
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else ""


def test_images_are_pinned(services):
    for name, svc in services.items():
        image = svc.get("image")
        assert image, f"{name}: name and tag the image (built ones too)"
        tag = _tag(image)
        assert tag not in ("", "latest"), f"{name}: {image} is not pinned"
        if "build" not in svc:
            assert re.search(r"\d+\.\d+", tag), f"{name}: {image} should pin a version, not a moving tag"
    froms = re.findall(r"^FROM\s+(\S+)", (DEPLOY / "Dockerfile").read_text(), flags=re.MULTILINE)
    assert len(froms) >= 2, "the Dockerfile should be multi-stage"
    for image in froms:
        assert re.search(r"\d+\.\d+\.\d+", _tag(image)), f"Dockerfile FROM {image} is not pinned"


def test_the_kafka_image_runs_kraft_without_zookeeper(services):
    env = environment_of(services["kafka"])
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{env['KAFKA_NODE_ID']}@")
    assert not any("ZOOKEEPER" in k for k in env)


def test_dockerfile_runs_as_non_root_and_installs_by_package_name(services):
    text = (DEPLOY / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", text, flags=re.MULTILINE)
    assert users, "the Dockerfile should switch to an unprivileged USER"
    assert users[-1].split(":")[0] not in ("root", "0"), users
    installs = [line for line in text.splitlines() if "pip install" in line]
    assert installs
    assert all("-c constraints.txt" in line for line in installs)
    assert not re.search(r"--(extra-)?index-url|--find-links|\bpip install\b.*\s-i\s", text)
    assert "-e " not in " ".join(installs), "install the packages non-editable"
    for service in SERVICES:
        build = services[service]["build"]
        assert build["dockerfile"] == "deploy/Dockerfile"
        assert (DEPLOY / build["context"]).resolve() == ROOT
        assert build["args"]["SERVICE"] == service


# --- topics, database, metrics ----------------------------------------------------------------------


def test_topics_and_partitions_agree_with_the_code(built, services):
    init = services["kafka-init"]
    env = environment_of(init)
    assert set(env["TOPICS"].split()) == {*ALL_TOPICS, *(dlq_topic(t) for t in ALL_TOPICS)}
    script = " ".join(init["command"]) if isinstance(init["command"], list) else init["command"]
    assert "kafka-topics.sh" in script
    assert "--create" in script
    assert "--if-not-exists" in script
    for flag, var in (("--partitions", "PARTITIONS"), ("--replication-factor", "REPLICATION_FACTOR")):
        assert re.search(flag + r'\s+"?\$\{?' + var, script), f"kafka-init should pass {flag} ${var}"
    assert re.search(r'--topic\s+"?\$\{TOPIC_PREFIX\}\$\{?topic', script)
    advertised = environment_of(services["kafka"])["KAFKA_ADVERTISED_LISTENERS"]
    assert f"://{env['BOOTSTRAP']}" in advertised
    for service, settings in built.items():
        assert settings.kafka_topic_partitions == int(env["PARTITIONS"]), service
        assert settings.kafka_replication_factor == int(env["REPLICATION_FACTOR"]), service
        assert settings.kafka_topic_prefix == env["TOPIC_PREFIX"], service


def test_postgres_init_script_makes_one_database_and_role_per_service(services, secrets):
    pg = services["postgres"]
    mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in pg["volumes"] if str(v).startswith("./")}
    scripts = [host for target, host in mounts.items() if target.startswith("/docker-entrypoint-initdb.d/")]
    assert len(scripts) == 1
    script = (DEPLOY / scripts[0]).read_text()
    loop = re.search(r"for service in ([a-z ]+); do", script)
    assert loop
    assert tuple(loop.group(1).split()) == SERVICES
    assert "REVOKE ALL ON DATABASE" in script
    assert "OWNER" in script
    env = environment_of(pg)
    for service in SERVICES:
        assert env[f"CLAIMS_PG_{service.upper()}_PASSWORD"] == secrets[f"CLAIMS_PG_{service.upper()}_PASSWORD"]
    assert env["POSTGRES_PASSWORD"] == secrets["CLAIMS_PG_ADMIN_PASSWORD"]
    assert re.match(r"postgres:\d+\.\d+", pg["image"])


def test_operations_doc_lists_every_setting_and_metric():
    doc = (ROOT / "docs" / "operations.md").read_text()
    missing = [
        name
        for name, field in ServiceSettings.model_fields.items()
        if not any(
            form in doc
            for form in (field.validation_alias, f"CLAIMS_{name}".upper(), f"CLAIMS_<SERVICE>_{name}".upper())
            if isinstance(form, str)
        )
    ]
    assert not missing, f"docs/operations.md does not describe {missing}"
    from claims_platform.metrics import ServiceMetrics

    registry = ServiceMetrics("doc-check").registry
    names = {metric.name for metric in registry.collect()}
    assert names, "no metrics?"
    undocumented = [n for n in names if n not in doc]
    assert not undocumented, f"docs/operations.md does not list {undocumented}"


def test_make_up_and_down_wrap_the_compose_file():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("up", "down"):
        body = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", makefile, flags=re.MULTILINE)
        assert body, f"no make {target}"
        assert target in shlex.split(re.search(r"^\.PHONY:(.*)$", makefile, flags=re.MULTILINE).group(1))
    assert "deploy/docker-compose.yml" in makefile
