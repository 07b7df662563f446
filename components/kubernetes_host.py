"""KubernetesRunnerHost: one gitlab-runner manager Deployment on a cluster, with the kubernetes executor.

Declares, through the host's `kubernetes.Provider` (passed in), exactly the objects `manifests.py` renders:
the manager Namespace (Pod Security `restricted`), the job Namespace (`privileged` only when a BuildKit
runner builds there, else `baseline`), ServiceAccount, Role + RoleBinding with the executor's documented
rules, a Secret with config.toml, the Deployment and the metrics Service. The Deployment's pod template
carries a checksum of config.toml, so any config change (token, runner, limit) rolls the manager: the new
pod starts first, the old one drains (SIGTERM rewritten to SIGQUIT) within the grace period.
https://docs.gitlab.com/runner/executors/kubernetes/ , https://www.pulumi.com/registry/packages/kubernetes/
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import manifests, runner_config
from components.model import FleetSpec
from components.secrets import secret

_KINDS: Mapping[str, tuple[type[pulumi.CustomResource], str]] = {
    "Namespace": (k8s.core.v1.Namespace, "namespace"),
    "ServiceAccount": (k8s.core.v1.ServiceAccount, "service-account"),
    "Role": (k8s.rbac.v1.Role, "role"),
    "RoleBinding": (k8s.rbac.v1.RoleBinding, "role-binding"),
    "Secret": (k8s.core.v1.Secret, "config"),
    "Deployment": (k8s.apps.v1.Deployment, "manager"),
    "Service": (k8s.core.v1.Service, "metrics"),
}


@dataclass(frozen=True)
class KubernetesRunnerHostArgs:
    spec: FleetSpec
    host_key: str
    tokens: Mapping[str, pulumi.Output[str]]  # runner key -> glrt- token (secret)


def checksum(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


class KubernetesRunnerHost(pulumi.ComponentResource):
    manager_name: pulumi.Output[str]

    def __init__(self, name: str, args: KubernetesRunnerHostArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("runner-fleet:kubernetes_host:KubernetesRunnerHost", name, None, opts)
        spec, key = args.spec, args.host_key
        config_toml = secret(
            pulumi.Output.all(**args.tokens).apply(lambda tokens: runner_config.render(spec, key, tokens))
        )
        # A digest of the text is not the text: keep it plain so the pod template stays reviewable.
        config_checksum = pulumi.Output.unsecret(config_toml.apply(checksum))

        # Shape first, with placeholders: which objects exist never depends on a secret value.
        host = spec.host(key)
        assert host.kubernetes is not None
        namespaces: list[pulumi.Resource] = []
        declared: list[pulumi.Resource] = []
        for shape in manifests.all_objects(spec, key, runner_config.TOKEN_PLACEHOLDER, ""):
            kind = shape["kind"]
            cls, suffix = _KINDS[kind]
            fields = {_snake(k): v for k, v in shape.items() if k not in ("apiVersion", "kind")}
            if kind == "Namespace" and shape["metadata"]["name"] != host.kubernetes.namespace:
                suffix = "job-namespace"
            elif kind == "Secret":
                fields["string_data"] = config_toml.apply(lambda text: {"config.toml": text})
            elif kind == "Deployment":
                fields["spec"] = config_checksum.apply(lambda c: manifests.deployment(spec, host, c)["spec"])
            # Namespaces first; the Deployment last, once its ServiceAccount, RBAC and Secret exist.
            depends_on = [] if kind == "Namespace" else list(declared if kind == "Deployment" else namespaces)
            resource = cls(
                f"{name}-{suffix}", opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on), **fields
            )
            declared.append(resource)
            if kind == "Namespace":
                namespaces.append(resource)
        self.manager_name = pulumi.Output.from_input(manifests.object_name(key))
        self.register_outputs({"managerName": self.manager_name})


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
