"""The Pulumi resource names runner-fleet declares, each from a stable key (host, runner, variable identity).

Defined once, here, so that the components declare exactly the names that `components/spec/names.py` checks before
anything is declared: two resources of one type under parents of one type with one name are one URN, and a duplicate
URN fails the whole `pulumi up` half-way. The Docker and Kubernetes object names are in render/labels.py and
render/manifests.py. Pure: no Pulumi import. https://www.pulumi.com/docs/iac/concepts/resources/names/
"""

from __future__ import annotations

import hashlib
import re
from typing import Protocol

GITLAB_PROVIDER = "gitlab"
"""The fleet's one GitLab provider."""
VARIABLES = "variables"
"""The CiVariables component (declared only when the stack has variables)."""

# Children of a Docker host component (components/docker_host.py), each named `<host resource>-<suffix>`.
DOCKER_IMAGE = "runner-image"
DOCKER_CONFIG_VOLUME = "config"
DOCKER_NETWORK = "manager-network"
DOCKER_CA_VOLUME = "gitlab-ca"
DOCKER_CONFIG_WRITER = "config-writer"
DOCKER_MANAGER = "manager"
DOCKER_CONFIG_RELOADER = "config-reloader"

# Children of a Kubernetes host component (components/kubernetes_host.py), each named `<host resource>-<suffix>`.
K8S_NAMESPACE = "namespace"
K8S_JOB_NAMESPACE = "job-namespace"
K8S_ADMISSION = "job-admission"
K8S_ADMISSION_BINDING = "job-admission-binding"
K8S_SERVICE_ACCOUNT = "service-account"
K8S_ROLE = "role"
K8S_ROLE_BINDING = "role-binding"
K8S_CONFIG = "config"
K8S_JOB_CA = "job-gitlab-ca"
K8S_METRICS_POLICY = "metrics-policy"
K8S_MANAGER = "manager"
K8S_DISRUPTION_BUDGET = "manager-disruption-budget"
K8S_METRICS = "metrics"
K8S_SERVICE_MONITOR = "service-monitor"
K8S_ALERT_RULES = "alert-rules"


def k8s_manager(index: int) -> str:
    """The suffix of a Kubernetes host's manager Deployment: replica 0 keeps the name it had before replicas
    existed (`K8S_MANAGER`), so raising `replicas` never renames (replaces) it; the others add their index."""
    return f"{K8S_MANAGER}-{index}" if index else K8S_MANAGER


def host(key: str) -> str:
    """A host's component (DockerRunnerHost or KubernetesRunnerHost); its children are named after it."""
    return f"host-{key}"


def runner(key: str) -> str:
    """A runner's RunnerRegistration component, and its registration's name without rotation (rotation.slot_name)."""
    return f"runner-{key}"


def docker_provider(host_key: str) -> str:
    """The explicit Docker provider of a Docker host."""
    return f"docker-{host_key}"


def kubernetes_provider(host_key: str) -> str:
    """The explicit Kubernetes provider of a Kubernetes host."""
    return f"k8s-{host_key}"


def child(parent: str, suffix: str) -> str:
    """A component's child: the component's name and the child's suffix (one of the constants above)."""
    return f"{parent}-{suffix}"


class Variable(Protocol):
    """What a variable's name is made from (model.VariableSpec)."""

    @property
    def identity(self) -> tuple[str, str, str, str]: ...


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "all"


def variable(var: Variable) -> str:
    """A CI/CD variable's resource: readable parts plus a short hash of the exact identity (owner kind, owner, key,
    environment scope), so keys that differ in case or scopes that slug alike stay apart."""
    kind, owner, key, scope = var.identity
    digest = hashlib.sha256("\0".join(var.identity).encode()).hexdigest()[:6]
    env = "all" if scope == "*" else _slug(scope)
    return f"var-{kind}-{_slug(owner)}-{key.lower()}-{env}-{digest}"


def description(stack: str, runner_key: str) -> str:
    """A registration's description in GitLab (model.RETIRING ends a retiring one's)."""
    return f"runner-fleet {stack}/{runner_key}"


def config_runner_name(stack: str, runner_key: str) -> str:
    """A runner's `name` in its manager's config.toml (what gitlab-runner logs and labels metrics with)."""
    return f"{stack}-{runner_key}"
