"""Read one map of the stack file by its key table: shape, unknown keys, one-of groups, every key's value.

Every reader reports what is wrong to `Problems` and goes on, so that all problems are found in one pass; it
returns only what was valid, so that the caller can tell a complete section from a broken one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from components.spec.keys import Key, OneOf, Section
from components.spec.kinds import INVALID, Nested
from components.spec.problems import Problems, describe, looks_secret, unknown_key

NestedParser = Callable[[Problems, object, str], Any]
"""Reads a nested value (a section, a scope) at a key path; returns None when it is invalid."""

# Host and runner keys become parts of resource, container and Kubernetes object names.
NAME_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,38}[A-Za-z0-9])?\Z")


def join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def expect_map(p: Problems, value: object, path: str, section: Section | None, expected: str) -> dict[str, Any] | None:
    """`value` if it is a map (every key not in `section` reported), else None with a problem."""
    if not isinstance(value, dict):
        p.add(path, f"expected {expected}, found {describe(value)}")
        return None
    if section is not None:
        for key in value:
            if key not in section.by_name:
                p.add(join(path, key), unknown_key(key, section.names))
    return value


def exactly_one_of(p: Problems, obj: Mapping[str, Any], path: str, rule: OneOf) -> str | None:
    """The one key of `rule` that `obj` holds, or None with a problem that says what was found."""
    present = [name for name in rule.names if name in obj]
    if len(present) == 1:
        return present[0]
    found = "none" if not present else f"{len(present)} keys ({', '.join(present)})"
    p.add(path, f"{rule.message}, found {found}")
    return None


def read_key(
    p: Problems, obj: Mapping[str, Any], path: str, key: Key, nested: Mapping[str, NestedParser] | None = None
) -> Any:
    """The valid value of one key of `obj` (None when absent or invalid); nested keys are read by `nested[name]`."""
    where = join(path, key.name)
    if key.name not in obj or (obj[key.name] is None and key.kind.none_is_absent):
        if key.required:
            p.add(where, key.required)
        return None
    if isinstance(key.kind, Nested):
        return (nested or {})[key.name](p, obj[key.name], where)
    value = key.kind.read(p, obj[key.name], where)
    return None if value is INVALID else value


def read_section(
    p: Problems,
    raw: object,
    path: str,
    section: Section,
    nested: Mapping[str, NestedParser] | None = None,
) -> dict[str, Any] | None:
    """The valid values of a map, keyed by model field; None when it is not a map at all.

    Absent keys are left out, so the model's defaults apply. For each one-of group, the name of the key
    present is put under the group's field (and left out when the group is broken).
    """
    obj = expect_map(p, raw, path, section, section.expected)
    if obj is None:
        return None
    values: dict[str, Any] = {}
    for rule in section.one_of:
        chosen = exactly_one_of(p, obj, path, rule)
        if chosen is not None:
            values[rule.field] = chosen
    for key in section.keys:
        value = read_key(p, obj, path, key, nested)
        if value is not None and key.field:
            values[key.field] = value
    return values


def check_name(p: Problems, key: str, path: str, what: str) -> bool:
    """Host and runner keys become parts of resource names: a short, plain name, and never a pasted secret
    (resource names and URNs are stored and shown in plain text)."""
    if isinstance(key, str) and looks_secret(key):
        p.add(
            path, f"this {what} key looks like a secret value; it becomes part of resource names, shown in plain text"
        )
        return False
    if isinstance(key, str) and NAME_RE.match(key):
        return True
    p.add(
        path,
        f"{what} key {key!r} must be letters, digits, '-', '_' or '.', at most 40 characters, "
        "starting and ending with a letter or digit (it becomes part of resource names)",
    )
    return False
