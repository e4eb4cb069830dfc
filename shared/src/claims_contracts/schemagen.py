"""Generate the checked-in JSON Schemas and the AsyncAPI document from the models.

Usage: ``python -m claims_contracts.schemagen [--check] [--allow-breaking] [--root DIR]``.

The schemas use pydantic's *serialization* mode: they describe the JSON a producer puts on the wire,
which is exactly what every consumer reads (money as ``"450.00"``, rates and quantities as strings,
instants in UTC). Pydantic's default for that mode is kept: ``required`` lists the fields without a
default, the ones a consumer's model cannot do without, so an event written before an optional field
existed still conforms. Writing refuses a change that ``compat.breaking_changes`` flags, unless
``--allow-breaking`` says it is deliberate (better: add a new ``event_version``).

Outputs, relative to the ``shared/`` directory: ``schemas/<EventType>.v<version>.json``,
``schemas/EventEnvelope.json`` and ``asyncapi.yaml``. JSON is pretty-printed with sorted keys and a
trailing newline; the YAML is emitted by a small writer here, so the package needs no YAML library.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from claims_contracts.compat import breaking_changes
from claims_contracts.envelope import EventEnvelope, EventPayload
from claims_contracts.events import ALL_EVENTS
from claims_contracts.topics import (
    ADJUDICATION_TOPIC,
    ALL_TOPICS,
    CORRELATION_ID_HEADER,
    EVENT_TYPE_HEADER,
    INTAKE_TOPIC,
    NOTIFICATION_TOPIC,
    PAYMENT_TOPIC,
    dlq_topic,
)

__all__ = [
    "ASYNCAPI_FILE",
    "ENVELOPE_FILE",
    "SCHEMA_DIR",
    "asyncapi_document",
    "check",
    "default_root",
    "envelope_schema",
    "event_schema",
    "generate",
    "main",
    "render_json",
    "render_yaml",
    "schema_file",
    "write",
]

SCHEMA_DIR = "schemas"
ENVELOPE_FILE = f"{SCHEMA_DIR}/EventEnvelope.json"
ASYNCAPI_FILE = "asyncapi.yaml"
_JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_KAFKA_BINDING_VERSION = "0.5.0"
_CONTRACT_VERSION = "1.0.0"

_CHANNELS: dict[str, tuple[str, str]] = {
    INTAKE_TOPIC: ("intake", "Claims submitted, documents requested, disputes, withdrawals and expiries."),
    ADJUDICATION_TOPIC: ("adjudication", "Claims pended for review, verification requests and decisions."),
    PAYMENT_TOPIC: ("payment", "Payments scheduled, sent, settled, failed or returned; overpayments."),
    NOTIFICATION_TOPIC: ("notification", "Messages sent to claimants and providers; survey answers."),
}


def default_root() -> Path:
    """Return the ``shared/`` directory of the source checkout this module lives in."""
    return Path(__file__).resolve().parents[2]


def schema_file(cls: type[EventPayload]) -> str:
    """Return the path of an event's schema relative to ``shared/``."""
    return f"{SCHEMA_DIR}/{cls.event_type}.v{cls.event_version}.json"


def event_schema(cls: type[EventPayload]) -> dict[str, Any]:
    """Return the JSON Schema (serialization mode) of an event payload."""
    schema = cls.model_json_schema(mode="serialization")
    schema["$schema"] = _JSON_SCHEMA_DIALECT
    schema["$id"] = schema_file(cls).rsplit("/", 1)[1]
    schema["x-event-type"] = cls.event_type
    schema["x-event-version"] = cls.event_version
    schema["x-topic"] = cls.topic
    return schema


def envelope_schema() -> dict[str, Any]:
    """Return the JSON Schema (serialization mode) of the envelope."""
    schema = EventEnvelope.model_json_schema(mode="serialization")
    schema["$schema"] = _JSON_SCHEMA_DIALECT
    schema["$id"] = ENVELOPE_FILE.rsplit("/", 1)[1]
    return schema


def _message_key(cls: type[EventPayload]) -> str:
    return f"{cls.event_type}.v{cls.event_version}"


def asyncapi_document() -> dict[str, Any]:
    """Return the AsyncAPI 3.0 document of the four topics as a plain dict."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic in ALL_TOPICS:
        name, summary = _CHANNELS[topic]
        events = [cls for cls in ALL_EVENTS if cls.topic == topic]
        keys = [_message_key(cls) for cls in events]
        channel_messages = {key: {"$ref": f"#/components/messages/{key}"} for key in keys}
        channels[name] = {
            "address": topic,
            "title": topic,
            "summary": summary,
            "description": (
                f"Published by the {name} service through its outbox. "
                "Kafka key: the claim_id, so one claim's events stay in order."
            ),
            "messages": channel_messages,
            "bindings": {"kafka": {"topic": topic, "bindingVersion": _KAFKA_BINDING_VERSION}},
        }
        dead = dlq_topic(topic)
        channels[f"{name}DeadLetters"] = {
            "address": dead,
            "title": dead,
            "summary": f"Dead letters of {topic}.",
            "description": (
                f"Messages of {topic} that a consumer could not handle after bounded retries, "
                "unchanged, with the error attached; replayed once the cause is fixed."
            ),
            "messages": dict(channel_messages),
            "bindings": {"kafka": {"topic": dead, "bindingVersion": _KAFKA_BINDING_VERSION}},
        }
        operations[f"publish{name.capitalize()}Events"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{name}"},
            "summary": f"The {name} service publishes these events.",
            "messages": [{"$ref": f"#/channels/{name}/messages/{_message_key(cls)}"} for cls in events],
        }
        for cls in events:
            messages[_message_key(cls)] = _message(cls)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Medical claims events",
            "version": _CONTRACT_VERSION,
            "description": (
                "Events between the intake, adjudication, payment and notification services.\n"
                "Every message value is an EventEnvelope (JSON) whose payload is the event; the Kafka key\n"
                "is the claim_id and the headers carry the event type and the correlation id.\n"
                "Consumers ignore unknown fields. A change a consumer could not read gets a new\n"
                "event_version (a new schema file) instead of changing an existing one.\n"
                "Generated by python -m claims_contracts.schemagen; do not edit by hand."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "kafka": {
                "host": "localhost:9092",
                "protocol": "kafka",
                "description": "Apache Kafka in KRaft mode; the embedded mode uses an in-process bus.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": {
                "EventEnvelope": {"$ref": f"./{ENVELOPE_FILE}"},
                "KafkaHeaders": {
                    "type": "object",
                    "required": [EVENT_TYPE_HEADER, CORRELATION_ID_HEADER],
                    "properties": {
                        EVENT_TYPE_HEADER: {"type": "string", "description": "The envelope's event_type."},
                        CORRELATION_ID_HEADER: {
                            "type": "string",
                            "description": "The envelope's correlation_id, for tracing.",
                        },
                        "event_id": {"type": "string", "description": "The envelope's event_id."},
                        "traceparent": {
                            "type": "string",
                            "description": "W3C trace context of the cause, when it was traced.",
                        },
                        "tracestate": {"type": "string", "description": "W3C trace state, with traceparent."},
                    },
                },
            },
            "correlationIds": {
                "correlationId": {
                    "description": "Shared by every event caused by one request.",
                    "location": f"$message.header#/{CORRELATION_ID_HEADER}",
                }
            },
        },
    }


def _message(cls: type[EventPayload]) -> dict[str, Any]:
    doc = (cls.__doc__ or cls.event_type).strip().splitlines()[0]
    return {
        "name": cls.event_type,
        "title": f"{cls.event_type} v{cls.event_version}",
        "summary": doc,
        "contentType": "application/json",
        "headers": {"$ref": "#/components/schemas/KafkaHeaders"},
        "correlationId": {"$ref": "#/components/correlationIds/correlationId"},
        "payload": {
            "allOf": [
                {"$ref": "#/components/schemas/EventEnvelope"},
                {
                    "type": "object",
                    "properties": {
                        "event_type": {"const": cls.event_type},
                        "event_version": {"const": cls.event_version},
                        "payload": {"$ref": f"./{schema_file(cls)}"},
                    },
                },
            ]
        },
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "The claim_id."},
                "bindingVersion": _KAFKA_BINDING_VERSION,
            }
        },
    }


def render_json(schema: dict[str, Any]) -> str:
    """Render a schema as pretty-printed JSON with sorted keys and a trailing newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


_PLAIN = re.compile(r"^(\./|[A-Za-z_$])[A-Za-z0-9_$./ -]*$")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    text = str(value)
    if _PLAIN.fullmatch(text) and not text.endswith(" ") and text.lower() not in _YAML_WORDS:
        return text
    return _quote(text)


def _quote(text: str) -> str:
    """Return a YAML double-quoted scalar, escaping quotes, backslashes and every non-printable character."""
    out = ['"']
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        elif ord(char) <= 0xFF:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)


def _yaml_lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            head = f"{pad}{_scalar(str(key))}:"
            if isinstance(item, dict | list) and item:
                lines.append(head)
                lines.extend(_yaml_lines(item, indent + 2))
            elif isinstance(item, str) and _block_friendly(item):
                lines.append(f"{head} |-")
                lines.extend(f"{pad}  {line}" if line else "" for line in item.split("\n"))
            else:
                lines.append(f"{head} {_inline(item)}")
    else:
        for item in value:
            if isinstance(item, dict | list) and item:
                nested = _yaml_lines(item, indent + 2)
                nested[0] = f"{pad}- {nested[0][indent + 2 :]}"
                lines.extend(nested)
            else:
                lines.append(f"{pad}- {_inline(item)}")
    return lines


def _block_friendly(text: str) -> bool:
    """Whether a multi-line string reads back exactly from a ``|-`` literal block."""
    lines = text.split("\n")
    return (
        len(lines) > 1
        and lines[0].strip() == lines[0] != ""
        and lines[-1] != ""
        and all(line.isprintable() for line in lines)
    )


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return _scalar(value)


def render_yaml(document: dict[str, Any]) -> str:
    """Render a JSON-like dict as block-style YAML with a trailing newline."""
    return "\n".join(_yaml_lines(document, 0)) + "\n"


def generate() -> dict[str, str]:
    """Return every generated file's text by its path relative to ``shared/``."""
    files = {schema_file(cls): render_json(event_schema(cls)) for cls in ALL_EVENTS}
    files[ENVELOPE_FILE] = render_json(envelope_schema())
    files[ASYNCAPI_FILE] = render_yaml(asyncapi_document())
    return files


def _orphans(root: Path, files: dict[str, str]) -> list[str]:
    schema_dir = root / SCHEMA_DIR
    if not schema_dir.is_dir():
        return []
    on_disk = (f"{SCHEMA_DIR}/{path.name}" for path in schema_dir.glob("*.json"))
    return sorted(path for path in on_disk if path not in files)


def _breaking(root: Path, files: dict[str, str]) -> list[str]:
    problems: list[str] = []
    for relative, text in files.items():
        path = root / relative
        if not relative.endswith(".json") or not path.is_file():
            continue
        old_text = path.read_text(encoding="utf-8")
        if old_text != text:
            for problem in breaking_changes(json.loads(old_text), json.loads(text)):
                problems.append(f"{relative}: {problem}")
    for orphan in _orphans(root, files):
        problems.append(f"{orphan}: event removed (no model generates it any more)")
    return problems


def check(root: Path) -> list[str]:
    """List how the files under ``root`` differ from the generated ones (empty when up to date)."""
    files = generate()
    differences: list[str] = []
    for relative, text in files.items():
        path = root / relative
        if not path.is_file():
            differences.append(f"{relative}: missing")
            continue
        old_text = path.read_text(encoding="utf-8")
        if old_text != text:
            diff = list(
                difflib.unified_diff(
                    old_text.splitlines(), text.splitlines(), "checked-in", "generated", lineterm="", n=1
                )
            )
            shown = "\n    ".join(diff[:40] + (["..."] if len(diff) > 40 else []))
            differences.append(f"{relative}: stale\n    {shown}")
    differences.extend(f"{orphan}: not generated by any model" for orphan in _orphans(root, files))
    differences.extend(f"breaking: {problem}" for problem in _breaking(root, files))
    return differences


def write(root: Path, *, allow_breaking: bool = False) -> tuple[list[str], list[str]]:
    """Write the generated files under ``root``; return (changed paths, breaking problems refused)."""
    files = generate()
    problems = _breaking(root, files)
    if problems and not allow_breaking:
        return [], problems
    changed: list[str] = []
    for relative, text in files.items():
        path = root / relative
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        changed.append(relative)
    for orphan in _orphans(root, files):
        (root / orphan).unlink()
        changed.append(f"{orphan} (removed)")
    return changed, problems


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m claims_contracts.schemagen",
        description="Generate the JSON Schemas and the AsyncAPI document from the contracts.",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 and list differences if stale")
    parser.add_argument("--allow-breaking", action="store_true", help="write even a breaking change")
    parser.add_argument("--root", type=Path, default=None, help="the shared/ directory to write into")
    args = parser.parse_args(argv)
    root: Path = args.root or default_root()
    if args.check:
        differences = check(root)
        for line in differences:
            print(line)
        if differences:
            print("schemas are stale: run python -m claims_contracts.schemagen", file=sys.stderr)
            return 1
        return 0
    changed, problems = write(root, allow_breaking=args.allow_breaking)
    for problem in problems:
        print(f"breaking: {problem}", file=sys.stderr)
    if problems and not args.allow_breaking:
        print("refused: add a new event_version, or pass --allow-breaking", file=sys.stderr)
        return 1
    for path in changed:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
