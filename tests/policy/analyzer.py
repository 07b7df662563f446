"""The CrossGuard pack fed through pulumi-policy's own analyzer (the project-venv half; see crossguard_analyzer.py).

`analyze(result, workdir)` writes what the engine would send the analyzer for a mock-engine plan to a file in
`workdir` (a test's temporary directory: it holds the stack file's placeholders and the mock's tokens, nothing
real), runs crossguard_analyzer.py in the pack's virtualenv (policy/venv, built by `make policy/venv/.installed`)
and returns the analyzer's answer. How the engine fills the requests (pulumi/pulumi
pkg/resource/deploy/step_generator.go, pkg/resource/plugin/analyzer_plugin.go):
- `Analyze`: the resource's inputs after the provider's Check (the mock engine has none: the docker schema's
  defaults are added as the bridge's Check adds them, `_checked`), secrets kept in the
  wire wrapper `{4dabf1...: 1b4706..., value: ...}`, unknowns as the unknown sentinel, top-level `__` keys
  skipped; options: protect, ignoreChanges, deleteBeforeReplace, additionalSecretOutputs, customTimeouts in
  seconds, parent; the resource's provider with the provider's inputs. Providers and components are analyzed too.
- `AnalyzeStack`: every resource with its outputs (here: its checked inputs, which the docker provider's Read
  returns as declared: the engine lane proves it, tests/engine; the outputs it names in additionalSecretOutputs
  made secret; provider-computed outputs such as ids and tokens are left out), parent and dependencies.
- `preview=True`: the first `pulumi preview` of a stack, when no runner token exists yet: every value built from a
  token (config.toml) is unknown. The mock engine knows its tokens, so they mark what a preview cannot know.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi.runtime import rpc

from components.plan import engine
from components.plan.engine import PlanResult, Resource
from policy.crossguard import STACKS_ENV
from tests.engine.compare import sdk_name
from tests.engine.provider import SCHEMAS

ROOT = Path(__file__).resolve().parents[2]
POLICY_PYTHON = ROOT / "policy" / "venv" / "bin" / "python"
HALF = Path(__file__).resolve().with_name("crossguard_analyzer.py")
PROVIDER_TYPE = "pulumi:providers:"
GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _seconds(duration: str | None) -> float:
    """A Go duration string ("1h6m") in seconds, as the engine stores customTimeouts."""
    return sum(float(n) * SECONDS[unit] for n, unit in GO_DURATION.findall(duration or ""))


def _secret(value: Any) -> dict[str, Any]:
    return {rpc._special_sig_key: rpc._special_secret_sig, "value": value}


def _unknown_tokens(value: Any) -> Any:
    """`value` as a first preview sends it: what a runner token went into is not known yet."""
    if isinstance(value, str):
        return rpc.UNKNOWN if engine.MOCK_TOKEN.search(value) else value
    if isinstance(value, dict):
        return {k: _unknown_tokens(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unknown_tokens(v) for v in value]
    return value


def _checked(resource_type: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """The inputs as the provider's Check returns them to the engine: pulumi-terraform-bridge's Check re-generates
    them with the Terraform schema's defaults for what the program leaves unset (a container's networkMode
    "bridge", restart "no", ...), and the engine analyzes and stores those. The defaults are the docker schema's as
    the engine lane transcribes it (tests/engine/provider.py: every attribute the container's Read sets)."""
    if resource_type not in SCHEMAS:
        return inputs
    renames, schema = SCHEMAS[resource_type]
    defaults = {sdk_name(tf, renames): attr.default for tf, attr in schema.items() if attr.default is not None}
    return defaults | inputs


def _wire(inputs: dict[str, Any], preview: bool, resource_type: str = "") -> dict[str, Any]:
    props = {k: v for k, v in inputs.items() if not k.startswith("__")}  # MarshalOptions.SkipInternalKeys
    props = _checked(resource_type, props)
    return _unknown_tokens(props) if preview else props


def _outputs(res: Resource, props: dict[str, Any]) -> dict[str, Any]:
    secret = set(res.options.get("additionalSecretOutputs") or ())
    return {k: _secret(v) if k in secret and not engine.is_secret(v) else v for k, v in props.items()}


def _urns(result: PlanResult, names: Iterable[str]) -> list[str]:
    """The URNs of resources the mock engine recorded by name (dependsOn); a name a component shares with the
    resource it wraps stands for both."""
    wanted = set(names)
    return sorted(r.urn for r in result.resources if r.name in wanted)


def material(result: PlanResult, *, preview: bool = False) -> dict[str, Any]:
    """What the engine sends the analyzer for every resource of `result`."""
    providers = {r.name: r for r in result.resources if r.type.startswith(PROVIDER_TYPE)}
    resources = []
    for res in result.resources:
        provider = providers.get(res.options.get("provider") or "")
        timeouts = res.options.get("customTimeouts") or {}
        props = _wire(res.inputs, preview, res.type)
        resources.append(
            {
                "urn": res.urn,
                "type": res.type,
                "name": res.name,
                "properties": props,
                "outputs": _outputs(res, props),
                "options": {
                    "protect": bool(res.options.get("protect")),
                    "ignoreChanges": list(res.options.get("ignoreChanges") or ()),
                    "deleteBeforeReplace": res.options.get("deleteBeforeReplace"),
                    "additionalSecretOutputs": list(res.options.get("additionalSecretOutputs") or ()),
                    "customTimeouts": {op: _seconds(timeouts.get(op)) for op in ("create", "update", "delete")},
                    "parent": res.parent,
                },
                "provider": provider
                and {
                    "urn": provider.urn,
                    "type": provider.type,
                    "name": provider.name,
                    "properties": _wire(provider.inputs, preview),
                },
                "parent": res.parent,
                "dependencies": _urns(result, res.options.get("dependsOn") or ()),
            }
        )
    return {"resources": resources}


@dataclass(frozen=True)
class Diagnostic:
    """One diagnostic the analyzer returned."""

    call: str
    """`Analyze` or `AnalyzeStack`."""
    policy: str
    level: str
    """`mandatory` or `advisory`."""
    urn: str
    message: str
    """The policy's description, a newline, then what the pack reported."""

    @property
    def finding(self) -> tuple[str, str]:
        """(rule id, what it is about): the pack starts what it reports with the finding's name, as the gate
        names it."""
        reported = self.message.partition("\n")[2]
        return self.policy, reported.partition(": ")[0]


@dataclass(frozen=True)
class Analysis:
    policies: dict[str, str]
    """The policies the analyzer serves (GetAnalyzerInfo), with their enforcement levels."""
    diagnostics: list[Diagnostic]

    def findings(self, level: str) -> list[tuple[str, str]]:
        """Sorted (rule id, finding name) of every diagnostic at `level`."""
        return sorted(d.finding for d in self.diagnostics if d.level == level)


def analyze(result: PlanResult, workdir: Path, *, stacks: Path | None = None, preview: bool = False) -> Analysis:
    """The analyzer's answer for `result`; `stacks`: where the pack finds the stack file (default: stacks/)."""
    if not POLICY_PYTHON.exists():
        raise RuntimeError(f"{POLICY_PYTHON} is missing: build the pack's virtualenv (make policy/venv/.installed)")
    path = workdir / f"analyzer-material-{result.stack}{'-preview' if preview else ''}.json"
    path.write_text(json.dumps(material(result, preview=preview)))
    env = {k: v for k, v in os.environ.items() if k != STACKS_ENV and not k.startswith("PULUMI_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "policy"), str(ROOT)])
    if stacks is not None:
        env[STACKS_ENV] = str(stacks)
    done = subprocess.run(
        [str(POLICY_PYTHON), str(HALF), str(path)], capture_output=True, text=True, env=env, cwd=ROOT, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"the analyzer half failed ({done.returncode}):\n{done.stderr}")
    answer = json.loads(done.stdout)
    return Analysis(answer["policies"], [Diagnostic(**d) for d in answer["diagnostics"]])
