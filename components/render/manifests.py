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
from typing import Any

from components.domain import site
from components.domain.model import ManagerSpec
from components.domain.targets import KubernetesTarget
from components.render import labels as marks
from components.render.config_toml import METRICS_PORT, manager_ca_file

RUNNER_UID = 100  # gitlab-runner user of the alpine image
RUNNER_GID = 65533
HOME = "/home/gitlab-runner"
CONFIG_DIR = f"{HOME}/.gitlab-runner"
CONFIG_KEY = "config.toml"  # the Secret's key, and the file name under CONFIG_DIR
CA_KEY = site.CA_FILE  # the GitLab CA's key in the config Secret and in the job namespace's CA Secret
SYSTEM_ID_KEY = ".runner_system_id"  # the Secret's key, and the file gitlab-runner reads next to config.toml
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
MANAGER_ALWAYS_DIRECT = ("$(KUBERNETES_SERVICE_HOST)", ".svc", ".cluster.local", "localhost", "127.0.0.1")
"""Never through the proxy for the manager: the API server (its service IP, which the kubelet expands from the
service environment), cluster-internal names and the pod itself."""
SECRET_TYPE = "Opaque"
CHECKSUM_ANNOTATION = "runner-fleet.io/config-checksum"
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


def system_id(manager: ManagerSpec) -> str:
    """The manager's identity in GitLab (`.runner_system_id`), derived from stack and host: gitlab-runner uses a file
    holding `s_` + 12 letters and digits as it is (configfile/system_id_state.go), so every pod of a rollout is the
    same manager instead of a new one per pod."""
    number = int.from_bytes(hashlib.sha256(f"{manager.stack}/{manager.host.key}".encode()).digest(), "big")
    letters = "".join(_BASE62[(number // 62**i) % 62] for i in range(12))
    return f"s_{letters}"


def config_secret_data(config_toml: str, ca_bundle: str | None = None, identity: str | None = None) -> dict[str, str]:
    """The config Secret's stringData: config.toml under CONFIG_KEY (the GitLab CA under CA_KEY, the manager's
    system id under SYSTEM_ID_KEY), each mounted as a single file."""
    data = {CONFIG_KEY: config_toml} | ({CA_KEY: ca_bundle} if ca_bundle is not None else {})
    return data | ({SYSTEM_ID_KEY: identity} if identity is not None else {})


def ca_secret_metadata(manager: ManagerSpec, target: KubernetesTarget) -> dict[str, Any]:
    """The job namespace's Secret holding the GitLab CA alone, which job pods mount read-only (config.toml)."""
    return _metadata(manager, marks.ca_secret_name(manager.host.key), target.job_namespace)


def ca_secret_data(ca_bundle: str) -> dict[str, str]:
    return {CA_KEY: ca_bundle}


def _manager_env(manager: ManagerSpec) -> list[dict[str, str]]:
    """HOME, and the host's proxy; the API server (in-cluster, by its service IP) and cluster names direct."""
    env = [{"name": "HOME", "value": HOME}]
    if manager.host.proxy is not None:
        env += [{"name": k, "value": v} for k, v in manager.host.proxy.environment(MANAGER_ALWAYS_DIRECT)]
    return env


def _manager_container(manager: ManagerSpec) -> dict[str, Any]:
    return {
        "name": "manager",
        "image": manager.host.runner_image,
        # Kubernetes stops pods with SIGTERM, which makes gitlab-runner abort jobs; dumb-init rewrites it
        # to SIGQUIT (15 -> 3): stop taking jobs, finish the running ones, exit.
        "command": ["/usr/bin/dumb-init", "--rewrite", "15:3", "--"],
        "args": ["gitlab-runner", "run", "--config", f"{CONFIG_DIR}/{CONFIG_KEY}", "--working-directory", HOME],
        "env": _manager_env(manager),
        "ports": [{"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}],
        # Both probes are local HTTP/TCP on the metrics listener: they never call GitLab.
        "readinessProbe": {
            "httpGet": {"path": "/health/ready", "port": "metrics"},
            "periodSeconds": 10,
            "timeoutSeconds": 3,
            "failureThreshold": 3,
        },
        "livenessProbe": {
            "tcpSocket": {"port": "metrics"},
            "initialDelaySeconds": 30,
            "periodSeconds": 30,
            "timeoutSeconds": 5,
            "failureThreshold": 4,
        },
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUNNER_UID,
            "runAsGroup": RUNNER_GID,
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [
            {"name": "home", "mountPath": HOME},
            # A writable config dir (gitlab-runner writes .runner_system_id next to config.toml) ...
            {"name": "config-dir", "mountPath": CONFIG_DIR},
            # ... holding the Secret's config.toml as a single read-only file.
            {"name": "config", "mountPath": f"{CONFIG_DIR}/{CONFIG_KEY}", "subPath": CONFIG_KEY, "readOnly": True},
            # ... and the manager's fixed identity next to it (see system_id).
            {
                "name": "config",
                "mountPath": f"{CONFIG_DIR}/{SYSTEM_ID_KEY}",
                "subPath": SYSTEM_ID_KEY,
                "readOnly": True,
            },
            {"name": "tmp", "mountPath": "/tmp"},
            *_ca_mounts(manager),
        ],
    }


def _ca_mounts(manager: ManagerSpec) -> list[dict[str, Any]]:
    """The GitLab CA from the config Secret, where config.toml's `tls-ca-file` names it."""
    if manager.gitlab_ca is None:
        return []
    path = manager_ca_file(manager, "")  # a fixed path on Kubernetes
    return [{"name": "config", "mountPath": path, "subPath": CA_KEY, "readOnly": True}]


def deployment_metadata(manager: ManagerSpec, target: KubernetesTarget) -> dict[str, Any]:
    return _metadata(manager, object_name(manager.host.key), target.namespace)


def deployment_spec(manager: ManagerSpec, checksum: str) -> dict[str, Any]:
    """The Deployment's spec; `checksum` is `config_toml.checksum` of the host's config.toml and CA."""
    name = object_name(manager.host.key)
    return {
        "replicas": 1,
        "revisionHistoryLimit": 5,
        "selector": {"matchLabels": selector(manager)},
        # The new manager starts before the old one is asked to drain.
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        "template": {
            "metadata": {
                "labels": labels(manager),
                # A config change changes the pod template, so the manager rolls.
                "annotations": {CHECKSUM_ANNOTATION: checksum},
            },
            "spec": {
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
                "containers": [_manager_container(manager)],
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


def metrics_service(manager: ManagerSpec, target: KubernetesTarget) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(manager, f"{object_name(manager.host.key)}-metrics", target.namespace),
        "spec": {
            "type": "ClusterIP",
            "selector": selector(manager),
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
        "spec": {"podSelector": {"matchLabels": selector(manager)}, "policyTypes": ["Ingress"], "ingress": ingress},
    }
