"""Find changes between two JSON Schemas of an event that would break a consumer.

Compatibility is checked both ways, since consumers validate with their own copy of the models:
an old consumer must read what a new producer writes (so nothing may be removed, retyped, or gain enum
values the old model rejects), and a new consumer must read old events still on the topic, in a dead
letter queue or replayed (so nothing may become required and no enum value may disappear). Adding an
optional property is the one change that is always safe. ``$ref``s are resolved against each schema's
own ``$defs``; annotations (title, description, examples, default) are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["breaking_changes"]

Schema = Mapping[str, Any]

_FROM_REF = "__resolved_from__"  # marks a schema reached through a $ref, to stop at recursive definitions

_CONSTRAINTS = (
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
)


def breaking_changes(
    old_schema: Mapping[str, Any], new_schema: Mapping[str, Any], *, allow_enum_additions: bool = False
) -> list[str]:
    """List what in ``new_schema`` would break a consumer written against ``old_schema``."""
    checker = _Checker(old_schema, new_schema, allow_enum_additions=allow_enum_additions)
    checker.compare(old_schema, new_schema, "$")
    return checker.problems


class _Checker:
    def __init__(self, old_root: Schema, new_root: Schema, *, allow_enum_additions: bool) -> None:
        self.old_root = old_root
        self.new_root = new_root
        self.allow_enum_additions = allow_enum_additions
        self.problems: list[str] = []
        self._in_progress: set[tuple[str, str]] = set()

    def report(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def compare(self, old: Schema, new: Schema, path: str) -> None:
        self._compare_resolved(_resolve(old, self.old_root), _resolve(new, self.new_root), path)

    def _compare_resolved(self, old: Schema, new: Schema, path: str) -> None:
        old_branches = _branches(old, self.old_root)
        new_branches = _branches(new, self.new_root)
        if len(old_branches) == 1 and len(new_branches) == 1:
            self._compare_single(old_branches[0], new_branches[0], path)
            return
        old_kinds = [_kind(branch) for branch in old_branches]
        new_kinds = [_kind(branch) for branch in new_branches]
        if sorted(old_kinds) != sorted(new_kinds):
            self.report(path, f"type changed from {_describe(old_kinds)} to {_describe(new_kinds)}")
            return
        unmatched = list(new_branches)
        for old_branch in old_branches:
            match = next(branch for branch in unmatched if _kind(branch) == _kind(old_branch))
            unmatched.remove(match)
            self._compare_single(old_branch, match, path)

    def _compare_single(self, old: Schema, new: Schema, path: str) -> None:
        key = (str(old.get(_FROM_REF, "")), str(new.get(_FROM_REF, "")))
        if key[0] and key[1]:
            if key in self._in_progress:
                return  # a recursive definition, already being compared further up
            self._in_progress.add(key)
        try:
            self._compare_one_kind(old, new, path)
        finally:
            self._in_progress.discard(key)

    def _compare_one_kind(self, old: Schema, new: Schema, path: str) -> None:
        old_kind, new_kind = _kind(old), _kind(new)
        if old.get("$ref") != new.get("$ref"):  # only external references are left unresolved here
            self.report(path, f"reference changed from {old.get('$ref')!r} to {new.get('$ref')!r}")
            return
        if old_kind != new_kind:
            self.report(path, f"type changed from {old_kind} to {new_kind}")
            return
        self._compare_enums(old, new, path)
        for name in _CONSTRAINTS:
            if old.get(name) != new.get(name):
                self.report(path, f"{name} changed from {old.get(name)!r} to {new.get(name)!r}")
        if old_kind == "object":
            self._compare_objects(old, new, path)
        elif old_kind == "array":
            self._compare_arrays(old, new, path)

    def _compare_enums(self, old: Schema, new: Schema, path: str) -> None:
        old_values, new_values = _enum_values(old), _enum_values(new)
        if old_values is None and new_values is None:
            return
        if old_values is None:
            self.report(path, f"now restricted to the values {_listing(new_values or [])}")
            return
        if new_values is None:
            if not self.allow_enum_additions:
                self.report(path, f"no longer restricted to the values {_listing(old_values)}")
            return
        removed = [value for value in old_values if value not in new_values]
        added = [value for value in new_values if value not in old_values]
        if removed:
            self.report(path, f"enum values removed: {_listing(removed)}")
        if added and not self.allow_enum_additions:
            self.report(path, f"enum values added (an old consumer rejects them): {_listing(added)}")

    def _compare_objects(self, old: Schema, new: Schema, path: str) -> None:
        old_props: Schema = old.get("properties", {})
        new_props: Schema = new.get("properties", {})
        old_required = set(old.get("required", ()))
        new_required = set(new.get("required", ()))
        for name, old_prop in old_props.items():
            if name not in new_props:
                self.report(_child(path, name), "property removed")
            else:
                self.compare(old_prop, new_props[name], _child(path, name))
        for name in sorted(new_required - old_required):
            if name in old_props:
                self.report(_child(path, name), "optional property became required")
            else:
                self.report(_child(path, name), "new required property")
        old_extra = old.get("additionalProperties", True)
        new_extra = new.get("additionalProperties", True)
        if isinstance(old_extra, Mapping) and isinstance(new_extra, Mapping):
            self.compare(old_extra, new_extra, f"{path}{{}}")
        elif old_extra != new_extra:
            self.report(path, f"additionalProperties changed from {old_extra!r} to {new_extra!r}")

    def _compare_arrays(self, old: Schema, new: Schema, path: str) -> None:
        old_prefix: list[Schema] = list(old.get("prefixItems", ()))
        new_prefix: list[Schema] = list(new.get("prefixItems", ()))
        if len(old_prefix) != len(new_prefix):
            self.report(path, f"tuple length changed from {len(old_prefix)} to {len(new_prefix)}")
        for index, (old_item, new_item) in enumerate(zip(old_prefix, new_prefix, strict=False)):
            self.compare(old_item, new_item, f"{path}[{index}]")
        old_items, new_items = old.get("items"), new.get("items")
        if isinstance(old_items, Mapping) and isinstance(new_items, Mapping):
            self.compare(old_items, new_items, f"{path}[]")
        elif isinstance(old_items, Mapping) != isinstance(new_items, Mapping):
            self.report(path, "item type changed")


def _resolve(schema: Schema, root: Schema) -> Schema:
    """Follow ``$ref`` (keeping sibling keywords) and unwrap a single-member ``allOf``."""
    seen: set[str] = set()
    while True:
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/") and ref not in seen:
            seen.add(ref)
            target = _pointer(root, ref)
            siblings = {key: value for key, value in schema.items() if key != "$ref"}
            schema = {**target, **siblings, _FROM_REF: ref}
            continue
        all_of = schema.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], Mapping):
            schema = {**all_of[0], **{key: value for key, value in schema.items() if key != "allOf"}}
            continue
        return schema


def _pointer(root: Schema, ref: str) -> Schema:
    node: Any = root
    for raw in ref[2:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping) or part not in node:
            raise KeyError(f"unresolvable $ref {ref}")
        node = node[part]
    if not isinstance(node, Mapping):
        raise KeyError(f"$ref {ref} does not point at a schema")
    return node


def _branches(schema: Schema, root: Schema) -> list[Schema]:
    """Flatten ``anyOf``/``oneOf`` and multi-type lists into single-kind alternatives."""
    for keyword in ("anyOf", "oneOf"):
        members = schema.get(keyword)
        if isinstance(members, list):
            rest = {key: value for key, value in schema.items() if key != keyword}
            out: list[Schema] = []
            for member in members:
                out.extend(_branches(_resolve({**rest, **member}, root), root))
            return out
    types = schema.get("type")
    if isinstance(types, list):
        return [{**schema, "type": single} for single in types]
    return [schema]


def _kind(schema: Schema) -> str:
    kind = schema.get("type")
    if kind is None:
        if "const" in schema:
            kind = _json_type(schema["const"])
        elif "enum" in schema:
            kind = "enum"
        elif "properties" in schema:
            kind = "object"
        elif "items" in schema or "prefixItems" in schema:
            kind = "array"
        else:
            kind = "any"
    fmt = schema.get("format")
    return f"{kind}({fmt})" if fmt else str(kind)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _enum_values(schema: Schema) -> list[Any] | None:
    if "enum" in schema:
        return list(schema["enum"])
    if "const" in schema:
        return [schema["const"]]
    return None


def _describe(kinds: list[str]) -> str:
    return " | ".join(sorted(kinds))


def _listing(values: list[Any]) -> str:
    return ", ".join(str(value) for value in values)


def _child(path: str, name: str) -> str:
    return f"{path}.{name}"
