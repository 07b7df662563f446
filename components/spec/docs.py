"""The key tables as documentation: `Pulumi.yaml`'s config block, generated, so that it cannot drift.

    python -m components.spec.docs      # prints the config block; paste it into Pulumi.yaml

A test compares `Pulumi.yaml` with `pulumi_config()`; another checks that the README's key reference names every key.
"""

from __future__ import annotations

import enum
from typing import Any

import yaml

from components.domain.model import FleetSpec, field_default
from components.spec.keys import TOP_LEVEL, Key, Section
from components.spec.kinds import Choice, Flag, Nested, Refused, Text


def summary(section: Section) -> str:
    """A section's keys on one line: `?` after optional ones, one-of groups joined with `|`, nested maps inline."""
    grouped = {name for rule in section.one_of for name in rule.names}
    parts = [" | ".join(_summary_of(section.by_name[n], in_group=True) for n in rule.names) for rule in section.one_of]
    parts += [_summary_of(k) for k in section.keys if k.name not in grouped and not isinstance(k.kind, Refused)]
    return "{" + ", ".join(parts) + "}"


def _summary_of(key: Key, in_group: bool = False) -> str:
    name = key.name + ("" if key.required or in_group else "?")
    if isinstance(key.kind, Nested):
        return f"{name}: {summary(key.kind.section) if key.kind.section else key.doc}"
    return name


# Keys whose default depends on another key: only the program can apply it, so Pulumi.yaml must not declare
# them (the CLI requires a declared key without a default, and injects a declared default into every stack).
PROGRAM_DEFAULTS = {"protect": "true for tier production, else false"}


def pulumi_config() -> dict[str, Any]:
    """The `config:` block `Pulumi.yaml` declares, as the CLI applies it: a key without a default is required.

    Required keys are declared without a default; optional keys with the model's default (untyped structures
    with their empty value); keys in PROGRAM_DEFAULTS are left out.
    """
    config: dict[str, Any] = {}
    for key in TOP_LEVEL.keys:
        if key.name in PROGRAM_DEFAULTS:
            continue
        declared: dict[str, Any] = {}
        if isinstance(key.kind, Text | Choice):
            declared["type"] = "string"
        elif isinstance(key.kind, Flag):
            declared["type"] = "boolean"
        description = key.doc
        if isinstance(key.kind, Nested) and key.kind.section is not None:
            description = f"{key.doc}, each {summary(key.kind.section)}"
        declared["description"] = description
        if not key.required:
            default = field_default(FleetSpec, key.field or key.name)
            # Absent: `{}` for a map, "" for a string (the CLI treats a declared key without a default as required).
            if default is None:
                default = {} if isinstance(key.kind, Nested) else ""
            declared["default"] = list(default) if isinstance(default, tuple) else _plain(default)
        config[key.name] = declared
    return config


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


if __name__ == "__main__":
    print(yaml.safe_dump({"config": pulumi_config()}, sort_keys=False, width=1000), end="")
