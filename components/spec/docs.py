"""The key tables as documentation: `Pulumi.yaml`'s config block, generated, so that it cannot drift.

    python -m components.spec.docs      # prints the config block; paste it into Pulumi.yaml

A test compares `Pulumi.yaml` with `pulumi_config()`; another checks that the README's key reference names every key.
"""

from __future__ import annotations

from typing import Any

import yaml

from components.model import FleetSpec, field_default
from components.spec.keys import TOP_LEVEL, Key, Section
from components.spec.kinds import Flag, Nested, Text


def summary(section: Section) -> str:
    """A section's keys on one line: `?` after optional ones, one-of groups joined with `|`, nested maps inline."""
    grouped = {name for rule in section.one_of for name in rule.names}
    parts = [" | ".join(_summary_of(section.by_name[n], in_group=True) for n in rule.names) for rule in section.one_of]
    parts += [_summary_of(k) for k in section.keys if k.name not in grouped]
    return "{" + ", ".join(parts) + "}"


def _summary_of(key: Key, in_group: bool = False) -> str:
    name = key.name + ("" if key.required or in_group else "?")
    if isinstance(key.kind, Nested):
        return f"{name}: {summary(key.kind.section) if key.kind.section else key.doc}"
    return name


def pulumi_config() -> dict[str, Any]:
    """The `config:` block `Pulumi.yaml` declares: every top-level key with its description (and type)."""
    config: dict[str, Any] = {}
    for key in TOP_LEVEL.keys:
        description = key.doc
        if isinstance(key.kind, Nested) and key.kind.section is not None:
            description = f"{key.doc}, each {summary(key.kind.section)}"
        declared: dict[str, Any] = {"description": description}
        if isinstance(key.kind, Text):
            declared = {"type": "string", **declared}
        elif isinstance(key.kind, Flag):
            declared = {"type": "boolean", "default": field_default(FleetSpec, key.field or key.name), **declared}
        config[key.name] = declared
    return config


if __name__ == "__main__":
    print(yaml.safe_dump({"config": pulumi_config()}, sort_keys=False, width=1000), end="")
