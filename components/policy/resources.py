"""The resources a stack declares, as the policies see them, whatever ran the program.

The offline plan (mock engine records) and the CrossGuard pack (the real engine's `props`) each convert what
they have into `Declared`: type token, name, inputs in the engine's camelCase, options. A secret input is a
`Secret` holding its value (so that a rule can both read it and know it is secret); an input the engine does
not know yet (a preview before the tokens exist) is `UNKNOWN`, and rules skip what they cannot see.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Secret:
    """An input the engine keeps secret; `value` is what it holds."""

    value: Any
    """The secret value (plain Python data)."""


class Unknown:
    """An input whose value the engine does not know yet."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = Unknown()


@dataclass(frozen=True)
class Declared:
    """One resource as the policies see it."""

    type: str
    """Its type token, e.g. `gitlab:index/userRunner:UserRunner`."""
    name: str
    """Its resource name (the last part of its URN)."""
    inputs: Mapping[str, Any]
    """Its inputs, camelCase; secrets as `Secret`, unknowns as `UNKNOWN`."""
    protect: bool = False
    """Whether the engine refuses to delete it."""
    secret_outputs: tuple[str, ...] = ()
    """Outputs the engine keeps secret (`additionalSecretOutputs`)."""


def plain(value: Any) -> Any:
    """`value` with every `Secret` unwrapped (for reading what a secret holds)."""
    if isinstance(value, Secret):
        return plain(value.value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


@dataclass(frozen=True)
class ConfigFile:
    """One manager's config.toml as declared, and where it was found."""

    resource: Declared
    """The resource that carries it (Docker config writer or Kubernetes Secret)."""
    secret: bool
    """Whether the engine receives it as a secret."""
    document: Mapping[str, Any]
    """The parsed file (tokens as the engine has them)."""


@functools.lru_cache(maxsize=4096)
def _toml(text: str) -> Mapping[str, Any]:
    """A config.toml parsed once however many rules read it (rules only read the documents)."""
    return tomllib.loads(text)


def config_files(resources: list[Declared]) -> Iterator[ConfigFile]:
    """Every config.toml the stack declares whose content the engine knows."""
    for res in resources:
        if res.type == "docker:index/container:Container":
            uploads = res.inputs.get("uploads")
            items = uploads.value if isinstance(uploads, Secret) else uploads
            for upload in items if isinstance(items, list) else []:
                content = upload.get("content") if isinstance(upload, dict) else None
                if str(upload.get("file", "")).endswith("/config.toml") and isinstance(plain(content), str):
                    secret = isinstance(uploads, Secret) or isinstance(content, Secret)
                    yield ConfigFile(res, secret, _toml(plain(content)))
        elif res.type == "kubernetes:core/v1:Secret":
            data = res.inputs.get("stringData")
            text = plain(data).get("config.toml") if isinstance(plain(data), dict) else None
            if isinstance(text, str):
                yield ConfigFile(res, isinstance(data, Secret), _toml(text))


def runner_entries(resources: list[Declared]) -> Iterator[tuple[ConfigFile, dict[str, Any]]]:
    """Every [[runners]] entry of every config.toml declared, with the file it is in."""
    for config in config_files(resources):
        for entry in config.document.get("runners", []):
            yield config, entry


def where(config: ConfigFile, entry: Mapping[str, Any]) -> str:
    """How a finding names a runner entry: the resource that carries its config.toml, and the runner's name."""
    return f"{config.resource.name} (runner {entry.get('name')})"


def resource_named(finding: str) -> str:
    """The resource a finding is about: itself, or for a runner entry (`where`) the resource carrying it."""
    return finding.split(" (runner ", 1)[0]
