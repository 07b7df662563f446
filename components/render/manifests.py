"""The Kubernetes objects of one gitlab-runner manager, as plain manifests. Pure: no Pulumi, no I/O.

`KubernetesRunnerHost` declares these objects field by field. The Secret and the Deployment come in parts,
because one part of each depends on the runner tokens (the Secret's data, the pod template's config checksum):
those parts are functions of their own, which the component calls inside `Output.apply`. The offline plan
writes what was declared (manifests.yaml); the tests validate these objects with kubernetes-validate. Sources:
- executor RBAC: https://docs.gitlab.com/runner/executors/kubernetes/#configure-runner-api-permissions
- Pod Security levels: https://kubernetes.io/docs/concepts/security/pod-security-standards/
- graceful stop: gitlab-runner drains on SIGQUIT; Kubernetes sends SIGTERM, which dumb-init rewrites.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from components.domain.model import ManagerSpec
from components.domain.targets import KubernetesTarget
from components.render import labels as marks
from components.render.config_toml import METRICS_PORT
from components.render.manager_pod import (
    CA_KEY,
    CONFIG_KEY,
    RUNNER_GID,
    RUNNER_UID,
    SYSTEM_ID_KEY,
    manager_container,
)
from components.render.manager_pod import CONFIG_DIR as CONFIG_DIR  # re-exported: where the manager's files are

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
SECRET_TYPE = "Opaque"
CHECKSUM_ANNOTATION = "runner-fleet.io/config-checksum"
REPLICA_LABEL = "runner-fleet.io/replica"
"""Label (hosts with `replicas` >= 2): which of the host's managers a pod is, "0", "1", ..."""
HOSTNAME_TOPOLOGY = "kubernetes.io/hostname"
APPLY_ORDER = (
    "Namespace",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "Secret",
    "NetworkPolicy",
    "Deployment",
    "PodDisruptionBudget",
    "Service",
    "ServiceMonitor",
    "PrometheusRule",
)
"""The kinds of a host, in the order they are applied (and listed in manifests.yaml)."""

# The kubernetes executor's documented permissions, attach strategy (the default), no optional extras.
EXECUTOR_RULES: tuple[dict[str, Any], ...] = (
    {"apiGroups": [""], "resources": ["events"], "verbs": ["list", "watch"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "delete", "get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["pods/attach"], "verbs": ["create", "delete", "get", "patch"]},
    {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create", "delete", "get", "patch"]},
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get", "list"]},
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create", "delete", "get", "update"]},
    {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["services"], "verbs": ["create", "get"]},
)


object_name = marks.object_name


def label_value(text: str) -> str:
    """A valid Kubernetes label value from any text, deterministically: at most 63 characters of
    [A-Za-z0-9_.-], starting and ending with a letter or digit. A valid value of at most 63 characters is kept
    as it is; any other (too long, or with other characters) is cleaned, cut and given a short digest of the
    whole text, so two names never clean to one."""
    if len(text) <= 63 and re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?", text):
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    clean = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-_.")[:54].rstrip("-_.")
    return f"{clean}-{digest}" if clean else digest


def labels(manager: ManagerSpec) -> dict[str, str]:
    host_key = manager.host.key
    return {
        "app.kubernetes.io/name": "gitlab-runner",
        "app.kubernetes.io/instance": label_value(f"{manager.stack}-{host_key}"),
        "app.kubernetes.io/managed-by": marks.MANAGED_BY,
        marks.STACK: label_value(manager.stack),
        marks.HOST: host_key,  # host keys are valid label values (spec.reader.NAME_RE)
    }


def selector(manager: ManagerSpec) -> dict[str, str]:
    keys = ("app.kubernetes.io/name", "app.kubernetes.io/instance")
    return {k: v for k, v in labels(manager).items() if k in keys}


def _replica_count(manager: ManagerSpec) -> int:
    target = manager.host.target
    return target.replicas if isinstance(target, KubernetesTarget) else 1


def managers_selector(manager: ManagerSpec) -> dict[str, str]:
    """The labels every manager pod of the host carries (the metrics Service, its NetworkPolicy and the
    PodDisruptionBudget select by them). One manager: `selector`, as before replicas existed. Several: the
    host's label, since each replica's `app.kubernetes.io/instance` is its own (see `Replica`); the manager
    namespace belongs to this host alone (spec.engines), so nothing else there carries it."""
    if _replica_count(manager) == 1:
        return selector(manager)
    return {"app.kubernetes.io/name": "gitlab-runner", marks.HOST: manager.host.key}


@dataclass(frozen=True)
class Replica:
    """One manager of a Kubernetes host: a Deployment of one pod (two while it rolls) with its own identity.

    Replica 0 is the host's manager as it was before `replicas` existed (same Deployment name, selector and
    system id), so raising `replicas` from 1 adds Deployments and rolls the first in place, never replacing it
    (`spec.selector` is immutable: a changed one replaces the Deployment, delete-first since it is named). The
    others get their own name, `app.kubernetes.io/instance` (so no Deployment's selector matches another's pods)
    and system id, derived from stack, host and index, so GitLab sees one manager per replica."""

    index: int
    """0 .. replicas-1."""
    name: str
    """The Deployment's name."""
    identity: str
    """The manager's `.runner_system_id`."""
    identity_key: str
    """The config Secret's key holding `identity`."""
    labels: dict[str, str]
    """The Deployment's and its pods' labels."""
    selector: dict[str, str]
    """The Deployment's `spec.selector.matchLabels`: its own pods only."""


def replicas(manager: ManagerSpec) -> tuple[Replica, ...]:
    """The host's managers, in index order (one unless `kubernetes.replicas` says more)."""
    count, base = _replica_count(manager), object_name(manager.host.key)
    found = []
    for index in range(count):
        own = labels(manager)
        if index:
            own["app.kubernetes.io/instance"] = label_value(f"{manager.stack}-{manager.host.key}-{index}")
        if count > 1:
            own[REPLICA_LABEL] = str(index)
        keys = ("app.kubernetes.io/name", "app.kubernetes.io/instance")
        found.append(
            Replica(
                index=index,
                name=f"{base}-{index}" if index else base,
                identity=system_id(manager, index),
                identity_key=f"{SYSTEM_ID_KEY}.{index}" if index else SYSTEM_ID_KEY,
                labels=own,
                selector={k: v for k, v in own.items() if k in keys},
            )
        )
    return tuple(found)


def _metadata(manager: ManagerSpec, name: str, namespace: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": labels(manager)}


def job_pod_security_level(manager: ManagerSpec) -> str:
    """BuildKit build containers run seccomp/AppArmor Unconfined, which only `privileged` admits."""
    return "privileged" if any(r.buildkit for r in manager.runners) else "baseline"


def _namespace(manager: ManagerSpec, name: str, level: str) -> dict[str, Any]:
    pss = {f"pod-security.kubernetes.io/{mode}": level for mode in ("enforce", "audit", "warn")}
    pss["pod-security.kubernetes.io/enforce-version"] = "latest"
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {**labels(manager), **pss}},
    }


def manager_namespace(manager: ManagerSpec, target: KubernetesTarget) -> dict[str, Any]:
    """The manager's namespace: Pod Security `restricted` (jobs never share it; the spec refuses that)."""
    return _namespace(manager, target.namespace, "restricted")


def job_namespace(manager: ManagerSpec, target: KubernetesTarget) -> dict[str, Any]:
    """The namespace job pods run in."""
    return _namespace(manager, target.job_namespace, job_pod_security_level(manager))


def service_account(manager: ManagerSpec, target: KubernetesTarget) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _metadata(manager, object_name(manager.host.key), target.namespace),
        "automountServiceAccountToken": True,  # the manager talks to the API server in-cluster
    }


def role(manager: ManagerSpec, target: KubernetesTarget) -> dict[str, Any]:
    """Namespaced to where job pods run; no wildcards, no ClusterRole."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _metadata(manager, object_name(manager.host.key), target.job_namespace),
        "rules": [dict(rule) for rule in EXECUTOR_RULES],
    }


def role_binding(manager: ManagerSpec, target: KubernetesTarget) -> dict[str, Any]:
    name = object_name(manager.host.key)
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _metadata(manager, name, target.job_namespace),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": target.namespace}],
    }


def config_secret_metadata(manager: ManagerSpec, target: KubernetesTarget) -> dict[str, Any]:
    """The config Secret's metadata. config.toml carries runner tokens: a Secret (SECRET_TYPE), never a ConfigMap."""
    return _metadata(manager, f"{object_name(manager.host.key)}-config", target.namespace)


def system_id(manager: ManagerSpec, replica: int = 0) -> str:
    """The manager's identity in GitLab (`.runner_system_id`), derived from stack and host (and the replica index
    from 1 on): gitlab-runner uses a file holding `s_` + 12 letters and digits as it is
    (configfile/system_id_state.go), so every pod of a rollout is the same manager instead of a new one per pod."""
    seed = f"{manager.stack}/{manager.host.key}" + (f"/{replica}" if replica else "")
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big")
    letters = "".join(_BASE62[(number // 62**i) % 62] for i in range(12))
    return f"s_{letters}"


def identities(manager: ManagerSpec) -> dict[str, str]:
    """The config Secret's identity keys: each manager's system id under its `Replica.identity_key`."""
    return {r.identity_key: r.identity for r in replicas(manager)}


def config_secret_data(
    config_toml: str, ca_bundle: str | None = None, identity: str | dict[str, str] | None = None
) -> dict[str, str]:
    """The config Secret's stringData: config.toml under CONFIG_KEY (the GitLab CA under CA_KEY, the managers'
    system ids under their keys, `identities`; a lone id goes under SYSTEM_ID_KEY), each mounted as a single
    file. Every replica loads the same config.toml."""
    data = {CONFIG_KEY: config_toml} | ({CA_KEY: ca_bundle} if ca_bundle is not None else {})
    ids = {SYSTEM_ID_KEY: identity} if isinstance(identity, str) else identity or {}
    return data | ids


def ca_secret_metadata(manager: ManagerSpec, target: KubernetesTarget) -> dict[str, Any]:
    """The job namespace's Secret holding the GitLab CA alone, which job pods mount read-only (config.toml)."""
    return _metadata(manager, marks.ca_secret_name(manager.host.key), target.job_namespace)


def ca_secret_data(ca_bundle: str) -> dict[str, str]:
    return {CA_KEY: ca_bundle}


def deployment_metadata(
    manager: ManagerSpec, target: KubernetesTarget, replica: Replica | None = None
) -> dict[str, Any]:
    """The metadata of a manager's Deployment (replica 0 unless given)."""
    replica = replica or replicas(manager)[0]
    return {"name": replica.name, "namespace": target.namespace, "labels": replica.labels}


def _anti_affinity(manager: ManagerSpec, replica: Replica) -> dict[str, Any]:
    """Never two of the host's managers on one node, so losing or draining a node stops at most one of them.
    Required, not preferred: preferred lets the scheduler stack them all on one node whenever it likes, and then
    one node takes every manager down (the whole point of replicas). The term matches the host's *other*
    replicas only, so a replica's rolling successor (same index, maxSurge 1) may start beside its predecessor:
    a rollout needs no spare node. The price: a replica whose node is gone waits (Pending) for a node that holds
    none of the others; the PodDisruptionBudget keeps the rest running meanwhile."""
    term = {
        "labelSelector": {
            "matchLabels": managers_selector(manager),
            "matchExpressions": [{"key": REPLICA_LABEL, "operator": "NotIn", "values": [str(replica.index)]}],
        },
        "topologyKey": HOSTNAME_TOPOLOGY,
    }
    return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}


def deployment_spec(manager: ManagerSpec, checksum: str, replica: Replica | None = None) -> dict[str, Any]:
    """A manager's Deployment spec (replica 0 unless given); `checksum` is `config_toml.checksum` of the host's
    config.toml and CA. Each replica is a Deployment of one pod that rolls as a lone manager does: its successor
    starts (same identity) before it drains, so no rollout ever lowers the number of managers taking jobs."""
    replica = replica or replicas(manager)[0]
    name = object_name(manager.host.key)
    pod: dict[str, Any] = {
        "serviceAccountName": name,
        "automountServiceAccountToken": True,
        "terminationGracePeriodSeconds": manager.drain_seconds,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUNNER_UID,
            "runAsGroup": RUNNER_GID,
            "fsGroup": RUNNER_GID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    if _replica_count(manager) > 1:
        pod["affinity"] = _anti_affinity(manager, replica)
    return {
        "replicas": 1,
        "revisionHistoryLimit": 5,
        "selector": {"matchLabels": replica.selector},
        # The new manager starts before the old one is asked to drain.
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        "template": {
            "metadata": {
                "labels": replica.labels,
                # A config change changes the pod template, so the manager rolls.
                "annotations": {CHECKSUM_ANNOTATION: checksum},
            },
            "spec": pod
            | {
                "containers": [manager_container(manager, replica.identity_key)],
                "volumes": [
                    # 0440: readable by the runner through fsGroup, by nobody else.
                    {"name": "config", "secret": {"secretName": f"{name}-config", "defaultMode": 0o440}},
                    {"name": "config-dir", "emptyDir": {"sizeLimit": "16Mi"}},
                    {"name": "home", "emptyDir": {"sizeLimit": "1Gi"}},
                    {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
                ],
            },
        },
    }


def disruption_budget(manager: ManagerSpec, target: KubernetesTarget) -> dict[str, Any] | None:
    """With several managers: a node drain (or any eviction) takes at most one of them at a time. Eviction
    counts a draining (terminating) pod as gone, so the next one waits until the evicted manager's successor is
    Ready elsewhere. A manager that is not Ready takes no job anyway: evicting it never blocks a drain
    (`unhealthyPodEvictionPolicy: AlwaysAllow`, Kubernetes >= 1.27). None for a lone manager: a budget of
    `minAvailable: 1` over one pod would block every node drain forever."""
    count = _replica_count(manager)
    if count == 1:
        return None
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _metadata(manager, object_name(manager.host.key), target.namespace),
        "spec": {
            "minAvailable": count - 1,
            "selector": {"matchLabels": managers_selector(manager)},
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }


def metrics_service(manager: ManagerSpec, target: KubernetesTarget) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(manager, f"{object_name(manager.host.key)}-metrics", target.namespace),
        "spec": {
            "type": "ClusterIP",
            "selector": managers_selector(manager),
            "ports": [{"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics", "protocol": "TCP"}],
        },
    }


def metrics_network_policy(manager: ManagerSpec, target: KubernetesTarget) -> dict[str, Any]:
    """Who reaches the manager pod: on the metrics port, pods of the `metricsFrom` namespaces; nothing else.
    The listener also serves /debug/pprof and /debug/jobs/list, so job pods never reach it (the spec refuses the
    job namespace in `metricsFrom`). Kubelet probes and `kubectl port-forward` do not pass through the pod
    network, so they keep working. Needs a CNI that enforces NetworkPolicy (Calico, Cilium, ...)."""
    peers = [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}
        for namespace in target.scrapers
    ]
    ingress = [{"from": peers, "ports": [{"port": METRICS_PORT, "protocol": "TCP"}]}] if peers else []
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _metadata(manager, f"{object_name(manager.host.key)}-metrics", target.namespace),
        "spec": {
            "podSelector": {"matchLabels": managers_selector(manager)},
            "policyTypes": ["Ingress"],
            "ingress": ingress,
        },
    }
