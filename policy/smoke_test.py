"""The pack against the real pulumi_policy types, without constructing PolicyPack (it would serve forever).

Run in the pack's own virtualenv by `make policy` (and so by CI), with PYTHONPATH=policy:. : every rule becomes
a policy with its enforcement level, and a validate call on real ResourceValidationArgs reports what it finds.
"""

from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    Secret,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy
from runner_fleet_pack import policies

from components.policy.rules import RULES


def args(
    resource_type: str, name: str, props: dict, stack: str = "prod", secret_outputs: tuple[str, ...] = ()
) -> ResourceValidationArgs:
    opts = PolicyResourceOptions(False, [], False, [], PolicyCustomTimeouts(0, 0, 0), list(secret_outputs), None)
    urn = f"urn:pulumi:{stack}::runner-fleet::{resource_type}::{name}"
    return ResourceValidationArgs(resource_type, unknown_checking_proxy(props), urn, name, opts, None, None, None)


def stack(*resources: tuple[str, str, dict], stack_name: str = "dev") -> StackValidationArgs:
    opts = PolicyResourceOptions(False, [], False, [], PolicyCustomTimeouts(0, 0, 0), [], None)
    return StackValidationArgs(
        [
            PolicyResource(
                t,
                unknown_checking_proxy(p),
                f"urn:pulumi:{stack_name}::runner-fleet::{t}::{n}",
                n,
                opts,
                None,
                None,
                [],
                {},
            )
            for t, n, p in resources
        ]
    )


def findings(policy_name: str, validation_args: ResourceValidationArgs | StackValidationArgs) -> list[str]:
    (policy,) = [p for p in policies() if p.name == policy_name]
    found: list[str] = []
    policy.validate(validation_args, lambda message, urn=None: found.append(message))
    return found


def main() -> None:
    built = policies()
    # Every rule but the gate-only ones (whether an input arrived wrapped as a secret: pulumi-policy unwraps them).
    assert [p.name for p in built] == [r.id for r in RULES if not r.gate_only], [p.name for p in built]
    assert "secret-inputs-wrapped" not in {p.name for p in built}
    levels = {p.name: p.enforcement_level for p in built}
    assert (
        levels["no-privileged"] == EnforcementLevel.MANDATORY and levels["tcp-without-tls"] == EnforcementLevel.ADVISORY
    )

    container = "docker:index/container:Container"
    assert findings("no-privileged", args(container, "host-a-manager", {"privileged": True, "name": "m"}))
    assert not findings("no-privileged", args(container, "host-a-manager", {"privileged": False, "name": "m"}))
    # A value unknown during preview is skipped, not an error; a secret is read through.
    preview = {"privileged": False, "uploads": UNKNOWN_STRING_VALUE, "name": "w"}
    assert not findings("no-host-paths-for-jobs", args(container, "host-a-config-writer", preview))
    # secrets-stay-secret judges what CrossGuard shows: the secret outputs and the type that carries config.toml
    # (the values arrive unwrapped, so a plain config.toml here is what every real stack looks like).
    toml = {"config.toml": 'concurrent = 1\n[[runners]]\nname = "x"\n'}
    k8s_secret, config_map = "kubernetes:core/v1:Secret", "kubernetes:core/v1:ConfigMap"
    sdk_outputs = ("data", "stringData")  # what pulumi-kubernetes asks for every Secret
    assert not findings(
        "secrets-stay-secret", args(k8s_secret, "host-k-config", {"stringData": toml}, "prod", sdk_outputs)
    )
    assert not findings(
        "secrets-stay-secret", args(k8s_secret, "host-k-config", {"stringData": Secret(toml)}, "prod", sdk_outputs)
    )
    assert findings("secrets-stay-secret", args(k8s_secret, "host-k-config", {"stringData": toml}))
    assert findings("secrets-stay-secret", args(config_map, "host-k-config", {"data": toml}))
    user_runner = "gitlab:index/userRunner:UserRunner"
    assert findings("secrets-stay-secret", args(user_runner, "runner-r", {})) == [
        "runner-r: the runner token must be a secret output (additionalSecretOutputs)"
    ]
    assert not findings("secrets-stay-secret", args(user_runner, "runner-r", {}, "prod", ("token",)))
    runner = {"accessLevel": "not_protected", "maximumTimeout": 3600}
    assert not findings(
        "production-protected-refs-only", args("gitlab:index/userRunner:UserRunner", "r", runner, "dev")
    )
    assert findings("production-protected-refs-only", args("gitlab:index/userRunner:UserRunner", "r", runner, "prod"))
    # A rule that relates resources is a stack policy: the manager and its NetworkPolicy are judged together.
    assert isinstance(next(p for p in built if p.name == "listener-out-of-jobs-reach"), StackValidationPolicy)
    labels = {"app.kubernetes.io/name": "gitlab-runner"}
    deployment = (
        "kubernetes:apps/v1:Deployment",
        "host-k-manager",
        {"metadata": {"namespace": "ci"}, "spec": {"template": {"metadata": {"labels": labels}}}},
    )
    fence = (
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "host-k-metrics-policy",
        {
            "metadata": {"namespace": "ci", "name": "m"},
            "spec": {"podSelector": {"matchLabels": labels}, "policyTypes": ["Ingress"], "ingress": []},
        },
    )
    assert not findings("listener-out-of-jobs-reach", stack(deployment, fence))
    assert findings("listener-out-of-jobs-reach", stack(deployment)) == [
        "host-k-manager: no NetworkPolicy fences the manager's listener; declare one that admits only metricsFrom "
        "namespaces"
    ]
    print(f"policy pack: {len(built)} policies, adapter checks passed")


if __name__ == "__main__":
    main()
