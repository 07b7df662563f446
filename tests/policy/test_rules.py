"""policy.rules: each rule stays quiet on what runner-fleet declares and fires on what it must never declare.

The hostile declarations are made by tampering with a real plan's resources, the way a bug in the program or a
hand-edited state would: the rules check what is declared, not the stack file.
"""

from __future__ import annotations

import copy
import dataclasses
import tomllib
from collections.abc import Callable
from typing import Any

import pytest
import tomli_w

from components.domain.model import Tier
from components.plan import gate, report
from components.policy.resources import Declared, Secret, plain
from components.policy.rules import RULES, evaluate
from tests.conftest import ROOT, Plan
from tests.fleets import COMPANY, COMPANY_SECRETS, K8S_MIXED, fleet

Tamper = Callable[[list[Declared]], list[Declared]]


def _declared(plan: Plan, values: dict[str, Any]) -> list[Declared]:
    return gate.declared(plan(values))


def _with(resources: list[Declared], resource: str, **inputs: Any) -> list[Declared]:
    return [dataclasses.replace(r, inputs={**r.inputs, **inputs}) if r.name == resource else r for r in resources]


def _config(resources: list[Declared], carrier: str, edit: Callable[[dict[str, Any]], None]) -> list[Declared]:
    """Edit the config.toml a resource carries (Docker writer upload or Kubernetes Secret), keeping it secret."""
    out = []
    for res in resources:
        if res.name == carrier and res.type.startswith("docker:"):
            uploads = plain(res.inputs["uploads"])
            document = tomllib.loads(uploads[0]["content"])
            edit(document)
            uploads[0]["content"] = tomli_w.dumps(document)
            res = dataclasses.replace(res, inputs={**res.inputs, "uploads": Secret(uploads)})
        elif res.name == carrier:
            document = tomllib.loads(plain(res.inputs["stringData"])["config.toml"])
            edit(document)
            res = dataclasses.replace(
                res, inputs={**res.inputs, "stringData": Secret({"config.toml": tomli_w.dumps(document)})}
            )
        out.append(res)
    return out


def _runner(name: str, edit: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def apply(document: dict[str, Any]) -> None:
        (entry,) = [r for r in document["runners"] if r["name"] == name]
        edit(entry)

    return apply


WRITER, K8S_SECRET = "host-edge-1-config-writer", "host-eu-config"
MANAGER, FENCE = "host-edge-1-manager", "host-eu-metrics-policy"


def _fence(rs: list[Declared], edit: Callable[[dict[str, Any]], None]) -> list[Declared]:
    out = []
    for res in rs:
        if res.name == FENCE:
            spec = copy.deepcopy(plain(res.inputs["spec"]))
            edit(spec)
            res = dataclasses.replace(res, inputs={**res.inputs, "spec": spec})
        out.append(res)
    return out


def _open_to(peer: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return lambda spec: spec.update(ingress=[{"from": [peer], "ports": [{"port": 9252, "protocol": "TCP"}]}])


def _confined(entry: dict[str, Any], volume: str) -> None:
    """A Docker entry without the BuildKit relaxation, with one more volume."""
    entry["docker"].pop("security_opt", None)
    entry["docker"]["volumes"] = [volume]


BUILDS = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "builds"}}}
TAMPERED: list[tuple[str, Tamper, str]] = [
    ("privileged manager", lambda rs: _with(rs, "host-edge-1-manager", privileged=True), "no-privileged"),
    (
        "privileged job",
        lambda rs: _config(rs, WRITER, _runner("test-docker-images", lambda e: e["docker"].update(privileged=True))),
        "no-privileged",
    ),
    (
        "unconfined plain runner",
        lambda rs: _config(
            rs,
            K8S_SECRET,
            _runner(
                "test-eu-tests",
                lambda e: e["kubernetes"].update(
                    build_container_security_context={"seccomp_profile": {"type": "Unconfined"}}
                ),
            ),
        ),
        "unconfined-only-for-buildkit-build",
    ),
    (
        "unconfined helper",
        lambda rs: _config(
            rs,
            K8S_SECRET,
            _runner(
                "test-eu-images",
                lambda e: e["kubernetes"].update(
                    helper_container_security_context={"seccomp_profile": {"type": "Unconfined"}}
                ),
            ),
        ),
        "unconfined-only-for-buildkit-build",
    ),
    (
        "BuildKit runner open to any image",
        lambda rs: _config(
            rs, WRITER, _runner("test-docker-images", lambda e: e["docker"].update(allowed_images=["*"]))
        ),
        "unconfined-only-for-buildkit-build",
    ),
    (
        "extra security option",
        lambda rs: _config(
            rs, WRITER, _runner("test-docker-images", lambda e: e["docker"]["security_opt"].append("label=disable"))
        ),
        "unconfined-only-for-buildkit-build",
    ),
    (
        "AppArmor annotation on another container",
        lambda rs: _config(
            rs,
            K8S_SECRET,
            _runner(
                "test-eu-images",
                lambda e: e["kubernetes"].update(
                    pod_annotations={"container.apparmor.security.beta.kubernetes.io/helper": "unconfined"}
                ),
            ),
        ),
        "unconfined-only-for-buildkit-build",
    ),
    (
        "unconfined manager container",
        lambda rs: _with(rs, "host-edge-1-manager", securityOpts=["seccomp=unconfined"]),
        "unconfined-only-for-buildkit-build",
    ),
    (
        "root BuildKit job",
        lambda rs: _config(
            rs, WRITER, _runner("test-docker-images", lambda e: e["docker"].update(allowed_users=["root"]))
        ),
        "buildkit-build-non-root",
    ),
    (
        "root build container",
        lambda rs: _config(
            rs,
            K8S_SECRET,
            _runner(
                "test-eu-images", lambda e: e["kubernetes"]["build_container_security_context"].update(run_as_user=0)
            ),
        ),
        "buildkit-build-non-root",
    ),
    (
        "docker socket for jobs",
        lambda rs: _config(
            rs,
            WRITER,
            _runner(
                "test-docker-images",
                lambda e: e["docker"].update(volumes=["/var/run/docker.sock:/var/run/docker.sock"]),
            ),
        ),
        "no-host-paths-for-jobs",
    ),
    (
        "host directory with propagation",
        lambda rs: _config(
            rs, WRITER, _runner("test-docker-images", lambda e: _confined(e, "/srv/runner-fleet/ci:/cache:rshared"))
        ),
        "no-host-paths-for-jobs",
    ),
    (
        "host directory for an unconfined job",
        lambda rs: _config(
            rs,
            WRITER,
            _runner("test-docker-images", lambda e: e["docker"].update(volumes=["/srv/runner-fleet/ci:/cache"])),
        ),
        "no-host-paths-for-jobs",
    ),
    (
        "named volume of the host",
        lambda rs: _config(
            rs,
            WRITER,
            _runner("test-docker-images", lambda e: _confined(e, "gitlab-runner-test-edge-1-config:/x")),
        ),
        "no-host-paths-for-jobs",
    ),
    (
        "host path for pods",
        lambda rs: _config(
            rs,
            K8S_SECRET,
            _runner(
                "test-eu-tests",
                lambda e: e["kubernetes"].update(
                    volumes={"host_path": [{"name": "r", "mount_path": "/r", "host_path": "/"}]}
                ),
            ),
        ),
        "no-host-paths-for-jobs",
    ),
    (
        "config.toml in plain text",
        lambda rs: [
            dataclasses.replace(r, inputs={**r.inputs, "stringData": plain(r.inputs["stringData"])})
            if r.name == K8S_SECRET
            else r
            for r in rs
        ],
        "secret-inputs-wrapped",
    ),
    (
        "config.toml in a ConfigMap",
        lambda rs: [
            dataclasses.replace(
                r, type="kubernetes:core/v1:ConfigMap", inputs={**r.inputs, "data": plain(r.inputs["stringData"])}
            )
            if r.name == K8S_SECRET
            else r
            for r in rs
        ],
        "secrets-stay-secret",
    ),
    (
        "config.toml Secret without its secret outputs",
        lambda rs: [dataclasses.replace(r, secret_outputs=()) if r.name == K8S_SECRET else r for r in rs],
        "secrets-stay-secret",
    ),
    (
        "token not a secret output",
        lambda rs: [
            dataclasses.replace(r, secret_outputs=()) if r.name == "runner-eu-images" and "userRunner" in r.type else r
            for r in rs
        ],
        "secrets-stay-secret",
    ),
    (
        "manager image latest",
        lambda rs: _with(rs, "host-edge-1-runner-image", name="gitlab/gitlab-runner:latest"),
        "images-pinned",
    ),
    (
        "manager on the default bridge",
        lambda rs: _with(rs, MANAGER, networksAdvanced=[], networkMode="bridge"),
        "listener-out-of-jobs-reach",
    ),
    (
        "manager also in a user-defined network by networkMode",
        lambda rs: _with(rs, MANAGER, networkMode="jobs"),
        "listener-out-of-jobs-reach",
    ),
    (
        "manager in the host network",
        lambda rs: _with(rs, MANAGER, networkMode="host"),
        "listener-out-of-jobs-reach",
    ),
    (
        "listener published on every interface",
        lambda rs: _with(rs, MANAGER, ports=[{"internal": 9252, "external": 9252, "ip": "0.0.0.0", "protocol": "tcp"}]),
        "listener-out-of-jobs-reach",
    ),
    (
        "listener published without an address",
        lambda rs: _with(rs, MANAGER, ports=[{"internal": 9252, "external": 9252}]),
        "listener-out-of-jobs-reach",
    ),
    (
        "jobs join the manager's network",
        lambda rs: _config(
            rs,
            WRITER,
            _runner(
                "test-docker-images", lambda e: e["docker"].update(network_mode="gitlab-runner-test-edge-1-manager")
            ),
        ),
        "listener-out-of-jobs-reach",
    ),
    (
        "no fence around the Kubernetes manager",
        lambda rs: [r for r in rs if r.name != FENCE],
        "listener-out-of-jobs-reach",
    ),
    ("fence open to the job namespace", lambda rs: _fence(rs, _open_to(BUILDS)), "listener-out-of-jobs-reach"),
    ("fence open to every pod", lambda rs: _fence(rs, _open_to({"podSelector": {}})), "listener-out-of-jobs-reach"),
    (
        "fence open to an address block",
        lambda rs: _fence(rs, _open_to({"ipBlock": {"cidr": "0.0.0.0/0"}})),
        "listener-out-of-jobs-reach",
    ),
    (
        "fence open to every source",
        lambda rs: _fence(rs, lambda spec: spec.update(ingress=[{"ports": [{"port": 9252}]}])),
        "listener-out-of-jobs-reach",
    ),
    (
        "fence that only restricts egress",
        lambda rs: _fence(rs, lambda spec: spec.update(policyTypes=["Egress"])),
        "listener-out-of-jobs-reach",
    ),
    (
        "job image untagged",
        lambda rs: _config(rs, K8S_SECRET, _runner("test-eu-tests", lambda e: e["kubernetes"].update(image="alpine"))),
        "images-pinned",
    ),
]


@pytest.mark.parametrize(("case", "tamper", "rule"), TAMPERED, ids=[c[0] for c in TAMPERED])
def test_each_rule_fires_on_what_must_never_be_declared(plan: Plan, case: str, tamper: Tamper, rule: str) -> None:
    resources = _declared(plan, K8S_MIXED)
    assert [v for v in evaluate(resources, Tier.DEVELOPMENT) if v.mandatory] == []
    violations = evaluate(tamper(copy.deepcopy(resources)), Tier.DEVELOPMENT)
    assert any(v.rule == rule and v.mandatory for v in violations), (case, [str(v) for v in violations])


def test_the_shipped_stacks_pass_every_mandatory_rule(plan: Plan) -> None:
    for stack in ("dev", "prod"):
        result = plan(ROOT / "stacks" / f"Pulumi.{stack}.yaml")
        tier = Tier.PRODUCTION if stack == "prod" else Tier.DEVELOPMENT
        assert [str(v) for v in evaluate(gate.declared(result), tier) if v.mandatory] == []


def test_production_rules_apply_to_production_only(plan: Plan) -> None:
    values = fleet(variables=[{"group": "acme", "key": "RELEASE", "value": "s3cr3t-value_123", "masked": True}])
    values["runners"]["unit"]["image"] = "alpine:3.22"
    resources = _declared(plan, values)
    production = {v.rule for v in evaluate(resources, Tier.PRODUCTION) if v.mandatory}
    assert {
        "production-protected",
        "production-protected-refs-only",
        "production-masked-variables-protected",
    } <= production
    assert not {v.rule for v in evaluate(resources, Tier.STAGING)} & production - {
        r.id for r in RULES if r.tiers is None
    }


def test_every_rule_says_what_it_asks_for() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    for rule in RULES:
        assert rule.description.endswith(".") and (not rule.advisory or rule.description.startswith("Advisory: "))


def test_the_readme_lists_every_rule() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Policies: what a stack may never declare", 1)[1].split("\n## ", 1)[0]
    assert [line.split("`")[1] for line in section.splitlines() if line.startswith("| `")] == [r.id for r in RULES]


def test_a_privileged_job_namespace_without_its_guard_is_reported(plan: Plan) -> None:
    resources = _declared(plan, K8S_MIXED)
    assert not [v for v in evaluate(resources, Tier.DEVELOPMENT) if v.rule == "privileged-job-namespace-unguarded"]
    unguarded = [r for r in resources if "ValidatingAdmissionPolicyBinding" not in r.type]
    (finding,) = [v for v in evaluate(unguarded, Tier.DEVELOPMENT) if v.rule == "privileged-job-namespace-unguarded"]
    assert finding.resource == "host-eu-job-namespace" and not finding.mandatory


def test_metrics_from_opens_the_fence_to_named_namespaces_only(plan: Plan) -> None:
    values = copy.deepcopy(K8S_MIXED)
    values["hosts"]["eu"]["kubernetes"]["metricsFrom"] = ["monitoring"]
    resources = _declared(plan, values)
    (fence,) = [plain(r.inputs) for r in resources if r.name == FENCE]
    assert fence["spec"]["ingress"] == [
        {
            "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
            "ports": [{"port": 9252, "protocol": "TCP"}],
        }
    ]
    assert not [v for v in evaluate(resources, Tier.DEVELOPMENT) if v.rule == "listener-out-of-jobs-reach"]


def test_a_retiring_registration_is_exempt_from_protection_and_marked(plan: Plan) -> None:
    values = fleet(tier="production")
    for runner in values["runners"].values():
        runner["protectedOnly"] = True
    resources = _declared(plan, values)
    (name,) = [r.name for r in resources if r.type == "gitlab:index/userRunner:UserRunner" and r.name == "runner-unit"]
    unprotected = [dataclasses.replace(r, protect=False) if r.name == name else r for r in resources]
    retiring = _with(unprotected, name, paused=True, description="runner-fleet test/unit (retiring)")
    found = [v for v in evaluate(retiring, Tier.PRODUCTION) if v.resource == name and v.rule.startswith("production")]
    assert [(v.rule, v.mandatory, v.exempt) for v in found] == [("production-protected", False, True)]
    assert report.plan_document(plan(values), found)["policies"][0]["exempt"] is True
    # Only a paused one: a registration that still takes jobs must stay protected, whatever it says.
    active = _with(unprotected, name, paused=False, description="runner-fleet test/unit (retiring)")
    assert [
        v.mandatory for v in evaluate(active, Tier.PRODUCTION) if v.resource == name and v.rule.startswith("production")
    ] == [True]


COMPANY_WRITER, COMPANY_SECRET = "host-build-config-writer", "host-cluster-config"
UPSTREAM_BUILDKIT = "moby/buildkit:v0.32.2-rootless"
COMPANY_TAMPERED: list[tuple[str, Tamper, str]] = [
    (
        "BuildKit image from Docker Hub beside a mirror",
        lambda rs: _config(
            rs, COMPANY_WRITER, _runner("test-images", lambda e: e["docker"].update(image=UPSTREAM_BUILDKIT))
        ),
        "unconfined-only-for-buildkit-build",
    ),
    (
        "BuildKit allow-list widened to another registry",
        lambda rs: _config(
            rs,
            COMPANY_SECRET,
            _runner(
                "test-k8s-images",
                lambda e: e["kubernetes"].update(allowed_images=["evil.example.com/moby/buildkit:*rootless"]),
            ),
        ),
        "unconfined-only-for-buildkit-build",
    ),
    (
        "another host's CA volume",
        lambda rs: _config(
            rs,
            COMPANY_WRITER,
            _runner(
                "test-tests",
                lambda e: e["docker"].update(
                    volumes=["gitlab-runner-test-other-gitlab-ca:/etc/gitlab-runner/certs:ro"]
                ),
            ),
        ),
        "no-host-paths-for-jobs",
    ),
    (
        "the CA volume writable",
        lambda rs: _config(
            rs,
            COMPANY_WRITER,
            _runner(
                "test-tests",
                lambda e: e["docker"].update(volumes=["gitlab-runner-test-build-gitlab-ca:/etc/gitlab-runner/certs"]),
            ),
        ),
        "no-host-paths-for-jobs",
    ),
    (
        "the config volume mounted into jobs",
        lambda rs: _config(
            rs,
            COMPANY_WRITER,
            _runner(
                "test-tests",
                lambda e: e["docker"].update(volumes=["gitlab-runner-test-build-config:/etc/gitlab-runner/certs:ro"]),
            ),
        ),
        "no-host-paths-for-jobs",
    ),
    (
        "another Secret mounted into job pods",
        lambda rs: _config(
            rs,
            COMPANY_SECRET,
            _runner(
                "test-internal",
                lambda e: e["kubernetes"].update(
                    volumes={
                        "secret": [
                            {
                                "name": "gitlab-runner-cluster-config",
                                "mount_path": "/etc/gitlab-runner/certs",
                                "read_only": True,
                            }
                        ]
                    }
                ),
            ),
        ),
        "no-host-paths-for-jobs",
    ),
]


@pytest.mark.parametrize(("case", "tamper", "rule"), COMPANY_TAMPERED, ids=[c[0] for c in COMPANY_TAMPERED])
def test_a_company_fleet_passes_and_its_ca_and_mirror_are_held(
    plan: Plan, case: str, tamper: Tamper, rule: str
) -> None:
    resources = gate.declared(plan(COMPANY, extra=COMPANY_SECRETS))
    assert [str(v) for v in evaluate(resources, Tier.DEVELOPMENT) if v.mandatory] == []
    violations = evaluate(tamper(copy.deepcopy(resources)), Tier.DEVELOPMENT)
    assert any(v.rule == rule and v.mandatory for v in violations), (case, [str(v) for v in violations])


def test_a_paused_unprotected_production_registration_is_on_its_way_out(plan: Plan) -> None:
    values = fleet(tier="production", protect=False)
    for runner in values["runners"].values():
        runner.update(protectedOnly=True, paused=True)
    found = evaluate(_declared(plan, values), Tier.PRODUCTION)
    assert [str(v) for v in found if v.mandatory and v.rule == "production-protected"] == []
    assert [v for v in found if v.rule == "production-protected" and v.exempt]
    values["runners"]["unit"]["paused"] = False
    found = evaluate(_declared(plan, values), Tier.PRODUCTION)
    assert [v.resource for v in found if v.mandatory and v.rule == "production-protected"] == ["runner-unit"]


def _unwrapped(resources: list[Declared]) -> list[Declared]:
    """The resources as CrossGuard shows them: pulumi-policy unwraps every secret before a policy reads it."""
    return [dataclasses.replace(r, inputs=plain(r.inputs)) for r in resources]


@pytest.mark.parametrize(("case", "tamper", "rule"), TAMPERED, ids=[c[0] for c in TAMPERED])
def test_the_pack_s_rules_judge_alike_whether_secrets_arrive_wrapped_or_not(
    plan: Plan, case: str, tamper: Tamper, rule: str
) -> None:
    resources = tamper(copy.deepcopy(_declared(plan, K8S_MIXED)))
    for carried in (r for r in RULES if not r.gate_only):
        assert list(carried.check(resources)) == list(carried.check(_unwrapped(resources))), (case, carried.id)


def test_the_gate_only_rule_could_not_hold_under_crossguard(plan: Plan) -> None:
    (wrapped,) = [r for r in RULES if r.gate_only]
    resources = _declared(plan, K8S_MIXED)
    assert list(wrapped.check(resources)) == []
    assert list(wrapped.check(_unwrapped(resources))), "it would fail every stack in the pack"
