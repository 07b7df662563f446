"""Read a stack file the way the Pulumi CLI hands it to the program, without the CLI.

Values under `config:` are passed as strings (structured values as JSON text), keys without a namespace get
the project's, and `{secure: ...}` values become placeholders that the engine still treats as secrets: the
plan never decrypts anything and needs no passphrase.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.spec.keys import PROJECT

SECRET_PLACEHOLDER = "mock-secret-value-of-{key}"


class StackFileError(Exception):
    """The stack file cannot be read at all (missing, not YAML, no config map)."""


@dataclass(frozen=True)
class StackFile:
    """A stack file as the engine sees it."""

    path: Path
    """Where it was read from."""
    stack: str
    """The stack name: given, or from the file name (`Pulumi.<stack>.yaml`)."""
    config: Mapping[str, str]
    """Fully qualified key -> string value, as the engine passes them; secrets as placeholders."""
    secret_keys: tuple[str, ...]
    """Fully qualified keys whose values are (or contain) secrets."""


def read_stack_file(path: Path, stack: str | None = None) -> StackFile:
    """Read `Pulumi.<stack>.yaml` the way the CLI hands it to the program; secure values become placeholders."""
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise StackFileError(f"{path}: cannot read the stack file ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise StackFileError(f"{path}: not valid YAML ({exc})") from exc
    if document is None:
        document = {}
    if not isinstance(document, dict) or not isinstance(document.get("config", {}), dict):
        raise StackFileError(f"{path}: expected a map with a 'config' map")
    name = stack or _stack_name(path)
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in (document.get("config") or {}).items():
        full = key if ":" in str(key) else f"{PROJECT}:{key}"
        plain, secret = _unsecure(value, full)
        config[full] = plain if isinstance(plain, str) else json.dumps(plain)
        if secret:
            secret_keys.append(full)
    return StackFile(path=path, stack=name, config=config, secret_keys=tuple(secret_keys))


def _stack_name(path: Path) -> str:
    stem = path.name
    for suffix in (".yaml", ".yml"):
        stem = stem.removesuffix(suffix)
    return stem.removeprefix("Pulumi.") or "dev"


def _unsecure(value: Any, key: str) -> tuple[Any, bool]:
    """Replace `{secure: ...}` (at any depth) by a placeholder; report whether the key holds a secret."""
    if isinstance(value, dict) and set(value) == {"secure"}:
        return SECRET_PLACEHOLDER.format(key=key), True
    if isinstance(value, dict):
        pairs = {k: _unsecure(v, key) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(s for _, s in pairs.values())
    if isinstance(value, list):
        items = [_unsecure(v, key) for v in value]
        return [v for v, _ in items], any(s for _, s in items)
    return value, False
