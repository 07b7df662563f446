"""The explicit providers: the environment of the machine running `pulumi up` neither chooses nor alters a host.

Each Docker and Kubernetes provider setting that upstream fills from an environment variable when it is not given
must be given (an explicit empty value counts as given: pulumi-terraform-bridge `applyDefaults` and the Terraform
SDK's `ConfigFieldReader.readPrimitive` consult a default only for an absent key), and the plan command warns about
those variables without printing their values.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path
from typing import Any

from components.plan import gate
from components.plan.stack_file import read_stack_file
from tests.conftest import ROOT, Plan
from tests.fleets import K8S_MIXED, ciphertext, fleet, write_stack
from tests.harness import of_type, plan_command

# Docker provider inputs (Pulumi names) that default from the environment when absent, transcribed from upstream:
# pulumi-docker provider/resources.go (`host`: EnvVars DOCKER_HOST) and sdk python provider.py
# (`if host is None: host = get_env('DOCKER_HOST')`); terraform-provider-docker v4.5.0, the upstream pulumi-docker
# pins, internal/provider/provider.go (the DefaultFunc of each key). Its `configure` lets a non-empty `context`
# replace `host` by that Docker context's endpoint.
DOCKER_FROM_ENV = {
    "host": "DOCKER_HOST",
    "context": "DOCKER_CONTEXT",
    "sshOpts": "DOCKER_SSH_OPTS",
    "certPath": "DOCKER_CERT_PATH",
    "caMaterial": "DOCKER_CA_MATERIAL",
    "certMaterial": "DOCKER_CERT_MATERIAL",
    "keyMaterial": "DOCKER_KEY_MATERIAL",
}
# Kubernetes provider inputs that default from the environment and change what `pulumi up` does to a cluster, and
# the provider's own default when neither the input nor the variable is set: pulumi-kubernetes
# provider/pkg/provider/provider.go `Configure` (each flag: input, else PULUMI_K8S_*, else the default below) and
# sdk python provider.py (`if kubeconfig is None: kubeconfig = get_env('KUBECONFIG')`). The suppress*Warnings
# flags only silence messages, and Helm settings do not concern the fleet.
K8S_FROM_ENV = {
    "deleteUnreachable": ("PULUMI_K8S_DELETE_UNREACHABLE", "false"),
    "skipUpdateUnreachable": ("PULUMI_K8S_SKIP_UPDATE_UNREACHABLE", "false"),
    "enableServerSideApply": ("PULUMI_K8S_ENABLE_SERVER_SIDE_APPLY", "true"),
    "enablePatchForce": ("PULUMI_K8S_ENABLE_PATCH_FORCE", "false"),
    "upsertExistingObjects": ("PULUMI_K8S_UPSERT_EXISTING_OBJECTS", "false"),
    "enableConfigMapMutable": ("PULUMI_K8S_ENABLE_CONFIGMAP_MUTABLE", "false"),
    "enableSecretMutable": ("PULUMI_K8S_ENABLE_SECRET_MUTABLE", "false"),
}
TLS_KEYS = {"tls1Ca": "ca", "tls1Cert": "cert", "tls1Key": "key"}


def _every_kind_of_docker_host() -> tuple[dict[str, Any], dict[str, Any]]:
    """FLEET (ssh://, tcp:// with certPath, unix://) plus a tcp:// host with TLS material from secrets."""
    values = fleet()
    values["hosts"]["tls-1"] = {
        "docker": {"host": "tcp://tls-1.acme.test:2376", "tls": {v: k for k, v in TLS_KEYS.items()}},
        "concurrent": 2,
    }
    values["runners"]["tls"] = {"host": "tls-1", "scope": {"group": "acme"}, "tags": ["tls"]}
    values["hosts"]["edge-1"]["docker"]["sshOpts"] = ["-o", "ConnectTimeout=10"]
    return values, {f"runner-fleet:{k}": {"secure": ciphertext("AAAA")} for k in TLS_KEYS}


def test_every_docker_provider_is_given_what_the_environment_would_fill(plan: Plan) -> None:
    values, extra = _every_kind_of_docker_host()
    providers = {r.name: r.display_inputs for r in of_type(plan(values, extra=extra), "pulumi:providers:docker")}
    assert set(providers) == {f"docker-{h}" for h in values["hosts"]}
    for name, inputs in providers.items():
        docker = values["hosts"][name.removeprefix("docker-")]["docker"]
        missing = [f"{key} ({variable})" for key, variable in DOCKER_FROM_ENV.items() if inputs.get(key) is None]
        assert not missing, f"{name}: the environment would fill {missing}"
        assert inputs["host"] == docker["host"]
        assert inputs["context"] == "", "a context, even the stack's own, would replace the host"
        assert json.loads(inputs["sshOpts"]) == docker.get("sshOpts", [])
        assert inputs["certPath"] == docker.get("certPath", "")
        tls = "[secret]" if "tls" in docker else ""
        assert [inputs[k] for k in ("caMaterial", "certMaterial", "keyMaterial")] == [tls] * 3


def test_every_cluster_provider_is_given_the_provider_s_own_defaults(plan: Plan) -> None:
    values = copy.deepcopy(K8S_MIXED)
    values["hosts"]["us"]["kubernetes"]["kubeconfig"] = "usKubeconfig"
    result = plan(values, extra={"runner-fleet:usKubeconfig": {"secure": ciphertext("AAAA")}})
    providers = {r.name: r.display_inputs for r in of_type(result, "pulumi:providers:kubernetes")}
    assert set(providers) == {"k8s-eu", "k8s-us"}
    for inputs in providers.values():
        assert {key: inputs.get(key) for key in K8S_FROM_ENV} == {k: v for k, (_, v) in K8S_FROM_ENV.items()}
    # Without a kubeconfig key: "" (client-go's loading rules, as kubectl) rather than $KUBECONFIG's text.
    assert providers["k8s-eu"]["kubeconfig"] == "" and providers["k8s-us"]["kubeconfig"] == "[secret]"
    assert providers["k8s-eu"]["context"] == "eu-1"


def test_a_tcp_host_without_tls_still_gets_the_advisory(plan: Plan, tmp_path: Path) -> None:
    values = fleet()
    values["hosts"]["edge-2"]["docker"] = {"host": "tcp://edge-2.acme.test:2375"}
    config = read_stack_file(write_stack(tmp_path, values)).config
    found = {(v.rule, v.resource) for v in gate.check(plan(values), dict(config))}
    assert [res for rule, res in found if rule == "tcp-without-tls"] == ["docker-edge-2"], "empty TLS keys are no TLS"


def _plan_command(out: Path, environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python -m components.plan` on the dev stack file with exactly `environ` (plus PATH and HOME)."""
    env = {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ} | environ
    return plan_command("--stack-file", str(ROOT / "stacks" / "Pulumi.dev.yaml"), "--out", str(out), env=env)


def test_the_plan_is_the_same_in_a_hostile_environment_and_says_so(tmp_path: Path) -> None:
    hostile = {variable: f"hostile-value-{i}" for i, variable in enumerate(DOCKER_FROM_ENV.values())}
    hostile |= {variable: "true" for variable, _ in K8S_FROM_ENV.values()}
    hostile["KUBECONFIG"] = str(tmp_path / "elsewhere.kubeconfig")
    quiet = _plan_command(tmp_path / "quiet", {})
    loud = _plan_command(tmp_path / "loud", hostile)
    assert quiet.returncode == 0, quiet.stderr
    assert loud.returncode == 0, loud.stderr
    assert (tmp_path / "loud" / "plan.json").read_text() == (tmp_path / "quiet" / "plan.json").read_text()
    assert " is set: " not in quiet.stderr
    warned = [line for line in loud.stderr.splitlines() if " is set: " in line]
    for variable in [*DOCKER_FROM_ENV.values(), *(v for v, _ in K8S_FROM_ENV.values()), "KUBECONFIG"]:
        assert [line for line in warned if line.split(": ", 1)[1].startswith(f"{variable} is set")], variable
    for variable in DOCKER_FROM_ENV.values():
        line = next(x for x in warned if f" {variable} is set" in x)
        assert line.startswith("warning: ") and "ignored" in line
    assert "hostile-value" not in loud.stderr + loud.stdout, "a variable's value is never printed"
