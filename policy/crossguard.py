"""The adapter between CrossGuard and runner-fleet's rules: no `pulumi_policy` import, so it is tested anywhere.

The pack (`__main__.py`, `runner_fleet_pack.py`) hands each resource's type, name, URN, options and `props` (its
inputs, as an unknown-checking proxy that raises on a value not known during preview) to `declared`, which returns the
`components.policy.resources.Declared` the rules read: secrets (`pulumi_policy.Secret`) become `Secret`,
values unknown during preview become `UNKNOWN` (a rule skips what it cannot see). Under the real engine
pulumi-policy hands `Analyze` and `AnalyzeStack` every secret unwrapped, so the pack carries only the rules that
judge what is visible there (`Rule.gate_only` ones stay in the offline plan). The stack's tier comes from its stack
file, found by the stack name in the URN in `stacks/` (or in the directory `RUNNER_FLEET_POLICY_STACKS` names,
for stack files kept elsewhere, e.g. by tests), read as plain YAML (the tier is never a secret).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from components.domain.model import PROJECT, Tier
from components.policy.resources import UNKNOWN, Declared, Secret
from components.policy.rules import Exempt, Rule

ROOT = Path(__file__).resolve().parents[1]
STACKS_ENV = "RUNNER_FLEET_POLICY_STACKS"
"""Environment variable naming the directory of the stack files (default: the project's `stacks/`)."""
# pulumi_policy/proxy.py: the sentinels of values unknown during preview, one per type.
UNKNOWN_SENTINELS = frozenset(
    {
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
        "030794c1-ac77-496b-92df-f27374a8bd58",
        "e48ece36-62e2-4504-bad9-02848725956a",
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
    }
)


def _raw(value: Any) -> Any:
    """The data behind pulumi_policy's proxies (`proxy["__target"]`), which raise on unknowns when read."""
    if type(value).__name__ in ("_DictProxy", "_ListProxy"):
        return value["__target"]
    return value


def plain_props(value: Any) -> Any:
    """CrossGuard props as plain data: `Secret` for secrets, `UNKNOWN` for values unknown during preview."""
    value = _raw(value)
    if type(value).__name__ == "Secret" and hasattr(value, "value"):
        return Secret(plain_props(value.value))
    if isinstance(value, str) and value in UNKNOWN_SENTINELS:
        return UNKNOWN
    if isinstance(value, dict):
        return {k: plain_props(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_props(v) for v in value]
    return value


def declared(resource_type: str, name: str, props: Any, opts: Any) -> Declared:
    """One CrossGuard resource (ResourceValidationArgs or PolicyResource fields) as the rules see it."""
    return Declared(
        type=resource_type,
        name=name,
        inputs=plain_props(props),
        protect=bool(getattr(opts, "protect", False)),
        secret_outputs=tuple(getattr(opts, "additional_secret_outputs", None) or ()),
    )


def stack_of(urn: str) -> str:
    """The stack name in a URN: `urn:pulumi:<stack>::<project>::<type>::<name>`."""
    return urn.split("::", 1)[0].split(":")[-1]


def stacks_dir() -> Path:
    """Where the pack looks for `Pulumi.<stack>.yaml`: `$RUNNER_FLEET_POLICY_STACKS`, else the project's stacks/."""
    return Path(os.environ.get(STACKS_ENV) or ROOT / "stacks")


def tier_of(stack: str, stacks: Path | None = None) -> Tier:
    """The stack's tier as its stack file says (the project default when it says nothing, or cannot be read)."""
    stacks = stacks_dir() if stacks is None else stacks
    try:
        document = yaml.safe_load((stacks / f"Pulumi.{stack}.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return Tier.DEVELOPMENT
    config = document.get("config") if isinstance(document, dict) else None
    value = (config or {}).get(f"{PROJECT}:tier", (config or {}).get("tier")) if isinstance(config, dict) else None
    return Tier(value) if value in {t.value for t in Tier} else Tier.DEVELOPMENT


def findings(rule: Rule, resources: list[Declared], stack: str, stacks: Path | None = None) -> list[tuple[str, str]]:
    """(resource name, message) for every finding of `rule` the pack reports: none when the stack's tier is not
    one the rule applies to; exemptions (a retiring registration) are never reported as violations."""
    if rule.tiers is not None and tier_of(stack, stacks) not in rule.tiers:
        return []
    return [(name, message) for name, message in (tuple(f) for f in rule.check(resources) if not isinstance(f, Exempt))]
