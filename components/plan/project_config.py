"""`Pulumi.yaml`'s config declarations, applied to a stack the way the Pulumi CLI applies them before a run.

What plans offline must be what `pulumi up` accepts. The CLI (pulumi/pulumi `pkg/workspace/config.go`,
`ValidateStackConfigAndApplyProjectConfig`, as of v3.259) does, for every declared key in sorted order:
- a key without a namespace is the project's; a declaration that is a bare scalar or list is shorthand for
  `default` (project keys) or `value` (other namespaces);
- a key the stack does not set gets the declaration's `value` or `default`, injected into the stack config
  the program sees (scalars as text, `true`/`false` for booleans; structures as JSON);
- a project key the stack does not set and that has neither is missing: "Stack 'dev' is missing
  configuration value 'x'" (all missing keys in one message);
- only explicitly typed keys are checked: `string` (any scalar), `integer`, `boolean`, `array` (with
  `items`), `object`: "Stack 'dev' with configuration key 'x' must be of type 'integer'"; a typed key
  declared `secret: true` must be set with `--secret`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from components.domain.model import PROJECT

PULUMI_YAML = Path(__file__).resolve().parents[2] / "Pulumi.yaml"


def declarations(project_file: Path = PULUMI_YAML) -> dict[str, dict[str, Any]]:
    """Fully qualified key -> declaration ({type?, items?, default?, value?, secret?}), shorthand expanded."""
    declared = (yaml.safe_load(project_file.read_text()) or {}).get("config") or {}
    out: dict[str, dict[str, Any]] = {}
    for key, declaration in declared.items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        if not isinstance(declaration, dict):
            declaration = {"default" if full.startswith(f"{PROJECT}:") else "value": declaration}
        out[full] = declaration
    return out


def _as_config_text(value: Any) -> str:
    """How the CLI stores an injected default: scalars as Go's %v prints them, anything else as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    return json.dumps(value)


def _type_name(declaration: Mapping[str, Any]) -> str:
    kind = str(declaration.get("type"))
    items = declaration.get("items")
    return f"array<{_type_name(items)}>" if kind == "array" and isinstance(items, dict) else kind


def _is_integer(value: Any) -> bool:
    if isinstance(value, str):
        digits = value.lstrip("+-")
        return digits.isascii() and digits.isdigit()
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _is_of_type(value: Any, declaration: Mapping[str, Any], nested: bool = False) -> bool:
    """As the CLI checks: a top-level scalar is stored as text, so any passes as a string; items come from JSON."""
    items = declaration.get("items")
    checks = {
        "string": lambda: isinstance(value, str) if nested else not isinstance(value, dict | list),
        "boolean": lambda: isinstance(value, bool) or value in ("true", "false"),
        "integer": lambda: _is_integer(value),
        "object": lambda: isinstance(value, dict),
        "array": lambda: (
            isinstance(value, list)
            and (not isinstance(items, dict) or all(_is_of_type(v, items, nested=True) for v in value))
        ),
    }
    check = checks.get(str(declaration.get("type")))
    return check() if check is not None else True


def _missing(stack: str, names: list[str]) -> str:
    quoted = [f"'{n}'" for n in names]
    listed = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} and {quoted[-1]}"
    return f"Stack '{stack}' is missing configuration value{'s' if len(names) > 1 else ''} {listed}"


def apply(
    stack: str, values: Mapping[str, Any], secret_keys: set[str], declared: Mapping[str, Mapping[str, Any]]
) -> tuple[dict[str, str], list[str]]:
    """(values to inject as config text, problems) for a stack's raw `values` (fully qualified keys)."""
    injected: dict[str, str] = {}
    problems: list[str] = []
    missing: list[str] = []
    for full in sorted(declared):
        declaration = declared[full]
        if full not in values:
            for source in ("value", "default"):
                if source in declaration:
                    injected[full] = _as_config_text(declaration[source])
                    break
            else:
                if full.startswith(f"{PROJECT}:"):
                    missing.append(full.split(":", 1)[1])
            continue
        if "type" not in declaration:
            continue
        name = full.split(":", 1)[1] if full.startswith(f"{PROJECT}:") else full
        if declaration.get("secret") and full not in secret_keys:
            problems.append(f"Stack '{stack}' with configuration key '{name}' must be encrypted as it's secret")
        elif full not in secret_keys and not _is_of_type(values[full], declaration):
            problems.append(
                f"Stack '{stack}' with configuration key '{name}' must be of type '{_type_name(declaration)}'"
            )
    if missing:
        # The CLI stops at the first line; the rest say why, for a key written under another namespace.
        hints = [
            f"{other}: not in this project's namespace; write it as '{PROJECT}:{name}'"
            for name in missing
            for other in sorted(values)
            if other.split(":", 1)[-1] == name and not other.startswith(f"{PROJECT}:")
        ]
        problems[:0] = [_missing(stack, missing), *hints]
    return injected, problems
