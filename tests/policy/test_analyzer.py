"""The CrossGuard pack, fed through pulumi-policy's own analyzer as the engine feeds it, agrees with the offline gate.

For each stack the program is planned under the mock engine; the gate judges the records (secrets wrapped), and
pulumi-policy's `_PolicyAnalyzerServicer` serving `policies()` judges the same resources sent as the engine sends
them (one Analyze per resource, providers included, then one AnalyzeStack; pulumi-policy unwraps the secrets
before any policy reads them). Among the rules the analyzer reports it carries, both must find exactly the same
(rule, resource) pairs, mandatory and advisory. The shipped stacks are clean; a weakened production stack has the
violations listed here by hand (the oracle: what a reviewer expects from the stack file, not the rules' code).
"""

from __future__ import annotations

import copy
import dataclasses
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w
import yaml
from pulumi.runtime import rpc

from components.plan import engine, gate
from components.plan.engine import PlanResult
from components.plan.stack_file import read_stack_file
from tests.conftest import ROOT
from tests.fleets import COMPANY, COMPANY_SECRETS, K8S_FLEET, ciphertext, fleet, write_stack
from tests.policy.analyzer import Analysis, analyze, material


def _secure(*keys: str) -> dict[str, Any]:
    return {key: {"secure": ciphertext(f"CIPHER{key.rpartition(':')[2]}")} for key in keys}


# Docker engines over tcp:// with TLS material from secret keys, and one without TLS (advisory, on its provider);
# a cluster reached by a kubeconfig from a secret key; a masked secret variable; the GitLab token as a secret.
TLS_AND_KUBECONFIG = fleet(
    hosts={
        "tls-1": {
            "docker": {
                "host": "tcp://tls-1.acme.test:2376",
                "tls": {"ca": "tls1Ca", "cert": "tls1Cert", "key": "tls1Key"},
            }
        },
        "plain": {"docker": {"host": "tcp://plain.acme.test:2375"}},
        "eu": {"kubernetes": {"namespace": "runners", "jobNamespace": "builds", "kubeconfig": "euKubeconfig"}},
    },
    runners={
        "images": {
            "host": "tls-1",
            "scope": {"group": "acme"},
            "tags": ["buildkit"],
            "buildkit": True,
            "protectedOnly": True,
        },
        "unit": {"host": "plain", "scope": {"project": 42}, "tags": ["unit"], "protectedOnly": True},
        "eu-images": {
            "host": "eu",
            "scope": {"group": "acme/platform"},
            "tags": ["buildkit", "eu"],
            "buildkit": True,
            "protectedOnly": True,
            "maximumTimeout": 3600,
        },
    },
    variables=[
        {"project": "acme/app", "key": "DEPLOY_TOKEN", "secret": "deployToken", "masked": True, "protected": True}
    ],
)
TLS_SECRETS = _secure(
    *(f"runner-fleet:{k}" for k in ("tls1Ca", "tls1Cert", "tls1Key", "euKubeconfig", "deployToken")), "gitlab:token"
)


def _gate(result: PlanResult, config: dict[str, str], carried: dict[str, str], level: str) -> list[tuple[str, str]]:
    """The gate's findings at `level` among the rules the pack carries."""
    return sorted(
        (v.rule, v.resource)
        for v in gate.check(result, config)
        if v.rule in carried and not v.exempt and v.mandatory == (level == "mandatory")
    )


def _agree(result: PlanResult, config: dict[str, str], analysis: Analysis) -> list[tuple[str, str]]:
    """Assert the pack and the gate find the same among the pack's rules; return the mandatory findings."""
    assert analysis.policies, "the analyzer serves no policy"
    for level in ("mandatory", "advisory"):
        assert analysis.findings(level) == _gate(result, config, analysis.policies, level), level
    return analysis.findings("mandatory")


def _stack(directory: Path, name: str, values: dict[str, Any], extra: dict[str, Any]) -> tuple[PlanResult, Path]:
    path = write_stack(directory, values, name, extra)
    return engine.run(read_stack_file(path)), path


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_shipped_stacks_are_clean_for_the_pack_and_the_gate(stack: str, tmp_path: Path) -> None:
    path = ROOT / "stacks" / f"Pulumi.{stack}.yaml"
    result = engine.run(read_stack_file(path))
    analysis = analyze(result, tmp_path)  # the pack finds the tier in stacks/, as under `pulumi preview`
    assert _agree(result, read_stack_file(path).config, analysis) == []
    assert not [v for v in gate.check(result, read_stack_file(path).config) if v.mandatory]


def _weakened_prod(directory: Path) -> Path:
    document = yaml.safe_load((ROOT / "stacks" / "Pulumi.prod.yaml").read_text())
    config = document["config"]
    config["runner-fleet:protect"] = False
    runners = config["runner-fleet:runners"]
    runners["images-b"]["protectedOnly"] = False
    runners["images-a"]["runUntagged"] = True
    config["runner-fleet:variables"].append(
        {"group": "platform", "key": "DEPLOY_KEY", "secret": "deployKey", "masked": True, "protected": False}
    )
    config.update(_secure("runner-fleet:deployKey", "gitlab:token"))
    path = directory / "Pulumi.prod-weakened.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


WEAKENED_PROD_MANDATORY = sorted(
    [
        ("production-protected", "runner-images-a"),
        ("production-protected", "runner-images-b"),
        ("production-protected", "runner-deploy"),
        ("production-protected", "var-group-platform-buildkit_progress-all-d8ea29"),
        ("production-protected", "var-group-platform-deploy_key-all-42ff2a"),
        ("production-protected-refs-only", "runner-images-b"),
        ("production-masked-variables-protected", "var-group-platform-deploy_key-all-42ff2a"),
    ]
)
WEAKENED_PROD_ADVISORY = [("buildkit-runs-untagged", "runner-images-a")]


def test_a_weakened_production_stack_fails_with_its_named_violations(tmp_path: Path) -> None:
    path = _weakened_prod(tmp_path)
    result = engine.run(read_stack_file(path))
    analysis = analyze(result, tmp_path, stacks=tmp_path)
    assert _agree(result, read_stack_file(path).config, analysis) == WEAKENED_PROD_MANDATORY
    assert analysis.findings("advisory") == WEAKENED_PROD_ADVISORY
    # Resource rules answer Analyze, one resource at a time, with the resource's URN.
    urns = {r.name: r.urn for r in result.resources if r.custom}
    for d in analysis.diagnostics:
        assert d.call == ("AnalyzeStack" if d.policy == "buildkit-runs-untagged" else "Analyze")
        assert d.urn == urns[d.finding[1]]


FLEETS = {
    "tls-production": (TLS_AND_KUBECONFIG | {"tier": "production"}, TLS_SECRETS),
    "tls-development": (TLS_AND_KUBECONFIG, TLS_SECRETS),
    "company": (COMPANY, COMPANY_SECRETS),
    "k8s-production": (K8S_FLEET | {"tier": "production"}, _secure("gitlab:token")),
    # Three managers of one host (kubernetes.replicas): more Deployments, a PodDisruptionBudget, the same rules.
    "k8s-replicas": (
        K8S_FLEET
        | {
            "hosts": {k: {**h, "kubernetes": {**h["kubernetes"], "replicas": 3}} for k, h in K8S_FLEET["hosts"].items()}
        },
        _secure("gitlab:token"),
    ),
}


@pytest.mark.parametrize("name", FLEETS)
def test_fleets_with_secret_tls_and_kubeconfigs_agree(name: str, tmp_path: Path) -> None:
    values, secrets = FLEETS[name]
    result, path = _stack(tmp_path, name, values, secrets)
    analysis = analyze(result, tmp_path, stacks=tmp_path)
    found = _agree(result, read_stack_file(path).config, analysis)
    assert not [v for v in gate.check(result, read_stack_file(path).config) if v.rule == "secret-inputs-wrapped"]
    if name == "k8s-production":  # nothing in it is protected-refs-only
        assert found == sorted(("production-protected-refs-only", f"runner-{key}") for key in K8S_FLEET["runners"])
    else:
        assert found == []


def test_providers_are_analyzed_with_their_secrets_wrapped_on_the_wire(tmp_path: Path) -> None:
    result, _ = _stack(tmp_path, "tls-production", *FLEETS["tls-production"])
    sent = {r["name"]: r for r in material(result)["resources"]}
    for key in ("caMaterial", "certMaterial", "keyMaterial"):
        assert engine.is_secret(sent["docker-tls-1"]["properties"][key]), key
    assert engine.is_secret(sent["k8s-eu"]["properties"]["kubeconfig"])
    assert engine.is_secret(sent["gitlab"]["properties"]["token"])
    assert sent["host-tls-1-manager"]["provider"]["urn"] == sent["docker-tls-1"]["urn"]
    analysis = analyze(result, tmp_path, stacks=tmp_path)
    (plain_tcp,) = [d for d in analysis.diagnostics if d.policy == "tcp-without-tls"]
    assert (plain_tcp.call, plain_tcp.level, plain_tcp.finding[1]) == ("Analyze", "advisory", "docker-plain")
    assert plain_tcp.urn == sent["docker-plain"]["urn"]


def _tampered(result: PlanResult, writer: str, runner: str) -> PlanResult:
    """`result` with one runner entry of a Docker host's config.toml made privileged (kept secret, as declared)."""
    resources = []
    for res in result.resources:
        if res.name == writer and res.type == "docker:index/container:Container":
            inputs = copy.deepcopy(res.inputs)
            uploads = engine.reveal(inputs["uploads"])
            document = tomllib.loads(uploads[0]["content"])
            (entry,) = [e for e in document["runners"] if e["name"] == runner]
            entry["docker"]["privileged"] = True
            uploads[0]["content"] = tomli_w.dumps(document)
            inputs["uploads"] = {rpc._special_sig_key: rpc._special_secret_sig, "value": uploads}
            res = dataclasses.replace(res, inputs=inputs)
        resources.append(res)
    return dataclasses.replace(result, resources=resources)


def test_a_runner_entry_violation_is_named_alike(tmp_path: Path) -> None:
    path = ROOT / "stacks" / "Pulumi.prod.yaml"
    result = _tampered(engine.run(read_stack_file(path)), "host-build-a-config-writer", "prod-images-a")
    analysis = analyze(result, tmp_path)
    assert _agree(result, read_stack_file(path).config, analysis) == [
        ("no-privileged", "host-build-a-config-writer (runner prod-images-a)")
    ]


@pytest.mark.parametrize("stack", ["dev", "prod", "tls-production"])
def test_a_first_preview_with_unknown_tokens_blocks_nothing_and_runs_every_policy(stack: str, tmp_path: Path) -> None:
    if stack in FLEETS:
        result, _ = _stack(tmp_path, stack, *FLEETS[stack])
    else:
        result = engine.run(read_stack_file(ROOT / "stacks" / f"Pulumi.{stack}.yaml"))
    assert rpc.UNKNOWN in str(material(result, preview=True)), "no value was unknown: the preview proves nothing"
    analysis = analyze(result, tmp_path, stacks=tmp_path if stack in FLEETS else None, preview=True)
    assert analysis.findings("mandatory") == []
    assert not [d for d in analysis.diagnostics if "during preview" in d.message], "a policy could not run"
