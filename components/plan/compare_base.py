"""The compare base (`--compare BASE_DIR`): an earlier plan's plan.json and hosts/<host>/config.toml, read as
untrusted input, all of it before anything is written.

A base comes from another branch's pipeline, an artifact, or a hand edit: reading it must end in the document or in
a clean error, whatever it holds (nesting beyond Python's stack, numbers JSON has not, a device or a gigabyte in
place of the file), and no error repeats what it holds.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MAX_BASE_BYTES = 256 << 20
"""A compare base larger than this is refused (a 1000-runner fleet's plan.json is a few tens of MiB)."""
MAX_BASE_DEPTH = 100
"""Nesting a compare base may have: plan.json nests resource inputs (at most MAX_DEPTH deep from the stack file)
a few levels down; anything deeper is not a plan, and comparing it could exhaust Python's stack."""

MAX_CONFIG_DEPTH = 32
"""Nesting a compare base's config.toml may have: a rendered one nests under 10 levels (runners, executor, volumes,
a volume, its attributes); the impact report walks it recursively, so deeper is refused, not a plan output."""


class BaseError(ValueError):
    """The compare base cannot be read as a plan output; the message says why, never what it holds."""


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise BaseError("a number beyond the range of a 64-bit float")
    return number


def _refuse_constant(name: str) -> Any:
    raise BaseError(f"{name}, which is not JSON")


def _deeper_than(value: Any, limit: int) -> bool:
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        items = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((item, depth + 1) for item in items)
    return False


def _is_plan(document: object) -> bool:
    """The shape `compare` reads: resources with type, name and urn (strings); hosts; the stack's name."""
    if not isinstance(document, dict) or not {"resources", "hosts", "stack"} <= set(document):
        return False
    resources, hosts = document["resources"], document["hosts"]
    return (
        isinstance(document["stack"], str)
        and isinstance(resources, list)
        and isinstance(hosts, dict)
        and all(
            isinstance(r, dict) and all(isinstance(r.get(k), str) for k in ("type", "name", "urn")) for r in resources
        )
    )


def load_base(directory: Path) -> dict[str, Any]:
    """The plan document in `directory` (an earlier plan's --out), or BaseError: unreadable, not JSON, larger than
    MAX_BASE_BYTES, nested deeper than MAX_BASE_DEPTH, numbers JSON has not (NaN, Infinity, 1e999), or not the
    shape this command writes. A hand-edited or hostile base ends in a clean error, never a crash."""
    try:
        with (directory / "plan.json").open("rb") as handle:
            data = handle.read(MAX_BASE_BYTES + 1)
    except OSError as exc:
        raise BaseError(f"no readable plan.json ({exc.strerror or type(exc).__name__})") from None
    if len(data) > MAX_BASE_BYTES:
        raise BaseError(f"plan.json is larger than {MAX_BASE_BYTES} bytes")
    try:
        document = json.loads(data, parse_float=_finite, parse_constant=_refuse_constant)
    except BaseError as exc:
        raise BaseError(f"plan.json holds {exc}") from None
    except RecursionError:
        raise BaseError("plan.json is nested too deeply to be a plan output") from None
    except ValueError as exc:  # not UTF-8, not JSON, an integer of more digits than Python converts
        raise BaseError(f"plan.json is not JSON ({type(exc).__name__})") from None
    if _deeper_than(document, MAX_BASE_DEPTH):
        raise BaseError(f"plan.json is nested more than {MAX_BASE_DEPTH} levels deep: not a plan output")
    if not _is_plan(document):
        raise BaseError("plan.json is not a plan output")
    loaded: dict[str, Any] = document
    return loaded


def check_configs(configs: Mapping[str, str]) -> None:
    """BaseError for a base hosts/<host>/config.toml nested deeper than MAX_CONFIG_DEPTH (TOML's dotted keys and
    inline arrays nest without bound), naming that file. One that is not TOML at all is left to the impact report,
    which says so for its host."""
    for host, text in configs.items():
        where = f"hosts/{host}/config.toml"  # host keys that reach here are safe directory names
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            continue
        except RecursionError:
            raise BaseError(f"{where} is nested too deeply to be a plan output") from None
        if _deeper_than(document, MAX_CONFIG_DEPTH):
            raise BaseError(f"{where} is nested more than {MAX_CONFIG_DEPTH} levels deep: not a plan output")
