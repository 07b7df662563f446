"""Run the real program for one stack file under Pulumi's mock engine and record everything it declares.

The one harness: the offline plan (`python -m components.plan`) and every test run programs through it.
The program, the spec and the provider SDKs run for real; only the engine is replaced: secure config values
become placeholders that are still secrets, provider-computed outputs get deterministic fake values (runner
tokens look like `glrt-mock-...`, so a leak is easy to spot), and every `RegisterResource` request is
recorded with its parent and options. https://www.pulumi.com/docs/iac/guides/testing/unit/
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import json
import logging
import os
import re
import runpy
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from components.domain.model import PROJECT, REDACTED
from components.plan.stack_file import StackFile

PROGRAM = Path(__file__).resolve().parents[2] / "__main__.py"


MOCK_TOKEN_PREFIX = "glrt-mock-"
MOCK_TOKEN = re.compile(re.escape(MOCK_TOKEN_PREFIX) + "[0-9a-f]{20}")
"""The runner tokens the mock issues: a fixed prefix and 20 hex digits of the registration's digest."""


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _numeric_id(*parts: str) -> int:
    return 1000 + int(_digest(*parts)[:8], 16) % 900000


class _Mocks(pulumi.runtime.Mocks):
    """Fake provider responses: deterministic, and shaped like the real providers' outputs."""

    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        state = dict(args.inputs)
        rid = f"{args.name}-id"
        if args.typ == "gitlab:index/userRunner:UserRunner":
            token = f"{MOCK_TOKEN_PREFIX}{_digest(args.name)[:20]}"
            self.tokens[args.name] = token
            state["token"] = pulumi.Output.secret(token)
            rid = str(_numeric_id("runner", args.name))
        elif args.typ == "docker:index/remoteImage:RemoteImage":
            state["imageId"] = "sha256:" + _digest("image", str(args.inputs.get("name")))
            state["repoDigest"] = f"{args.inputs.get('name')}@sha256:{_digest('digest', str(args.inputs.get('name')))}"
        elif args.typ == "docker:index/volume:Volume":
            state.setdefault("name", args.name)
            state["mountpoint"] = f"/var/lib/docker/volumes/{state['name']}/_data"
        return rid, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        if args.token == "gitlab:index/getProject:getProject":
            path = str(args.args.get("pathWithNamespace"))
            return {"id": str(_numeric_id("project", path)), "pathWithNamespace": path}
        if args.token == "gitlab:index/getGroup:getGroup":
            path = str(args.args.get("fullPath"))
            return {"groupId": _numeric_id("group", path), "fullPath": path}
        return {}


@dataclass
class Resource:
    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    inputs: dict[str, Any]  # as the engine received them; secrets still wrapped (see `display`)
    options: dict[str, Any]
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    """Input -> names of the resources its value came from: what a delete-before-replace cascades through (the
    engine's calculateDependentReplacements); `options.dependsOn` holds these and the explicit `depends_on`."""

    @functools.cached_property
    def display_inputs(self) -> dict[str, Any]:
        """The inputs as a preview shows them (computed once: read it, never change it)."""
        return display(self.inputs)

    @functools.cached_property
    def revealed(self) -> dict[str, Any]:
        """The inputs with secret wrappers removed (computed once: read it, never change it)."""
        return reveal(self.inputs)


class _RecordingMonitor(MockMonitor):
    def __init__(self, mocks: _Mocks) -> None:
        super().__init__(mocks)
        self.records: list[Resource] = []
        self.invokes: list[dict[str, Any]] = []
        self._names: dict[str, str] = {}

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        self._names[response.urn] = request.name
        provider_urn = request.provider.split("::")[:-1] if request.provider else []
        options = {
            "protect": bool(request.protect),
            "provider": provider_urn[-1] if provider_urn else None,
            "dependsOn": sorted(self._names.get(u, u) for u in request.dependencies),
            # As the program set it: true, false, or None when left to the provider (the SDK sends `false` and
            # `deleteBeforeReplaceDefined: false` then, and the engine takes the provider's answer).
            "deleteBeforeReplace": bool(request.deleteBeforeReplace) if request.deleteBeforeReplaceDefined else None,
            "ignoreChanges": list(request.ignoreChanges),
            "additionalSecretOutputs": list(request.additionalSecretOutputs),
            "retainOnDelete": bool(request.retainOnDelete),
            "customTimeouts": _timeouts(request),
        }
        self.records.append(
            Resource(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent,
                custom=bool(request.custom),
                inputs=rpc.deserialize_properties(request.object, keep_unknowns=True),
                options=options,
                property_dependencies={
                    key: sorted(self._names.get(u, u) for u in deps.urns)
                    for key, deps in request.propertyDependencies.items()
                    if deps.urns
                },
            )
        )
        return response

    def Invoke(self, request: Any) -> Any:
        self.invokes.append({"token": request.tok, "args": display(rpc.deserialize_properties(request.args))})
        return super().Invoke(request)


def _timeouts(request: Any) -> dict[str, str | None] | None:
    """customTimeouts as the engine receives them (Pulumi duration strings), or None when none are set."""
    if not request.HasField("customTimeouts"):
        return None
    timeouts = request.customTimeouts
    found = {op: getattr(timeouts, op) or None for op in ("create", "update", "delete")}
    return found if any(found.values()) else None


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig


def reveal(value: Any) -> Any:
    """The value with secret wrappers removed (for assertions on what a secret holds)."""
    if is_secret(value):
        return reveal(value["value"])
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


def display(value: Any) -> Any:
    """The value as a preview shows it: secrets as "[secret]", whole numbers as ints."""
    if is_secret(value):
        return REDACTED
    if isinstance(value, dict):
        return {k: display(v) for k, v in value.items()}
    if isinstance(value, list):
        return [display(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@dataclass
class PlanResult:
    stack: str
    resources: list[Resource]
    invokes: list[dict[str, Any]]
    outputs: dict[str, Any]
    warnings: list[str]
    tokens: dict[str, str] = field(default_factory=dict)  # UserRunner name -> mock glrt- token
    secret_values: tuple[str, ...] = ()  # what the secret config keys held (the stack file's placeholders)

    def mask_tokens(self, text: str, *, config_values: bool = True) -> str:
        """`text` with every token the mock issued, and every secret config value (unless `config_values` is
        False: the stack file's placeholders), shown as REDACTED."""
        issued = set(self.tokens.values())
        if issued:  # one pass for however many tokens: each has the mock's shape (see _Mocks.new_resource)
            text = MOCK_TOKEN.sub(lambda m: REDACTED if m.group() in issued else m.group(), text)
        for value in self.secret_values if config_values else ():
            if value:
                text = text.replace(value, REDACTED)
        return text


class _WarningCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _no_ambient_config() -> Iterator[None]:
    """Config comes from the stack file only, never from PULUMI_CONFIG* in the caller's environment."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("PULUMI_CONFIG")}
    for key in saved:
        del os.environ[key]
    try:
        yield
    finally:
        os.environ.update(saved)


@contextlib.contextmanager
def _collector_restored(*, off: bool = False) -> Iterator[None]:
    """The cyclic garbage collector as it was when the block began, once it ends; `off`: off meanwhile.

    The program turns it off for its run (__main__.py); whoever ran the program goes on with it as before
    (tests, the plan command's report)."""
    enabled = gc.isenabled()
    if off:
        gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def collector_off() -> contextlib.AbstractContextManager[None]:
    """The cyclic garbage collector off for a block, as the program runs (__main__.py), then as it was."""
    return _collector_restored(off=True)


def run(stack_file: StackFile) -> PlanResult:
    """Run the program for the stack under the mock engine; raises what the program raises (e.g. SpecError)."""
    return run_function(
        lambda: runpy.run_path(str(PROGRAM), run_name="__main__"),
        stack=stack_file.stack,
        config=stack_file.config,
        secret_keys=stack_file.secret_keys,
    )


def run_function(
    body: Callable[[], object],
    *,
    stack: str = "test",
    config: Mapping[str, str] | None = None,
    secret_keys: Sequence[str] = (),
) -> PlanResult:
    """Run `body` (a program, or a few components for a component test) under the mock engine."""
    mocks = _Mocks()
    monitor = _RecordingMonitor(mocks)
    collector = _WarningCollector()
    logger = logging.getLogger(f"runner-fleet.mock.{id(monitor)}")
    logger.propagate = False
    logger.addHandler(collector)
    with _no_ambient_config(), _collector_restored():
        pulumi.runtime.reset_options(project=PROJECT, stack=stack, preview=False)
        pulumi.runtime.set_all_config(dict(config or {}), list(secret_keys))
        pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor, logger=logger)
        root = pulumi.runtime.get_root_resource()
        _sync_await(run_pulumi_func(body))  # type: ignore[arg-type]
        outputs = _sync_await(_resolve_outputs(root.outputs if root is not None else {}))  # type: ignore[attr-defined]
    return PlanResult(
        stack=stack,
        resources=sorted(monitor.records, key=lambda r: r.urn),
        invokes=sorted(monitor.invokes, key=lambda i: json.dumps(i, sort_keys=True)),
        outputs=outputs,
        warnings=collector.messages,
        tokens=dict(mocks.tokens),
        secret_values=tuple(config[key] for key in secret_keys if config and isinstance(config.get(key), str)),
    )


async def _resolve_outputs(outputs: Mapping[str, Any]) -> dict[str, Any]:
    resolved: dict[str, Any] = {}
    for name, value in outputs.items():
        out = pulumi.Output.from_input(value)
        resolved[name] = REDACTED if await out.is_secret() else await out.future()
    return resolved
