"""The Kubernetes objects of one gitlab-runner manager, as plain manifests. Pure: no Pulumi, no I/O.

`KubernetesRunnerHost` declares exactly these dicts; the offline plan writes them to manifests.yaml and
the tests validate them with kubernetes-validate. The config.toml Secret's content and the config
checksum are spliced in by the caller. Sources:
- executor RBAC: https://docs.gitlab.com/runner/executors/kubernetes/#configure-runner-api-permissions
- Pod Security levels: https://kubernetes.io/docs/concepts/security/pod-security-standards/
- graceful stop: gitlab-runner drains on SIGQUIT; Kubernetes sends SIGTERM, which dumb-init rewrites.
"""

from __future__ import annotations

import re
from typing import Any

from components import versions
from components.model import FleetSpec, HostSpec

RUNNER_UID = 100  # gitlab-runner user of the alpine image
RUNNER_GID = 65533
HOME = "/home/gitlab-runner"
CONFIG_DIR = f"{HOME}/.gitlab-runner"
SECRET_MOUNT = "/run/runner-fleet"
CHECKSUM_ANNOTATION = "runner-fleet.io/config-checksum"

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


def object_name(host_key: str) -> str:
    """A DNS label from the host key; unique because each host owns its namespaces."""
    return "gitlab-runner-" + re.sub(r"[^a-z0-9-]+", "-", host_key.lower()).strip("-")


def labels(spec: FleetSpec, host_key: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "gitlab-runner",
        "app.kubernetes.io/instance": f"{spec.stack}-{host_key}"[:63].rstrip("-_."),
        "app.kubernetes.io/managed-by": "runner-fleet",
        "runner-fleet.io/stack": spec.stack,
        "runner-fleet.io/host": host_key,
    }


def selector(spec: FleetSpec, host_key: str) -> dict[str, str]:
    return {
        k: v for k, v in labels(spec, host_key).items() if k in ("app.kubernetes.io/name", "app.kubernetes.io/instance")
    }


def job_pod_security_level(spec: FleetSpec, host: HostSpec) -> str:
    """BuildKit build containers run seccomp/AppArmor Unconfined, which only `privileged` admits."""
    return "privileged" if any(r.buildkit for r in spec.runners_on(host.key)) else "baseline"


def _namespace(spec: FleetSpec, host_key: str, name: str, level: str) -> dict[str, Any]:
    pss = {f"pod-security.kubernetes.io/{mode}": level for mode in ("enforce", "audit", "warn")}
    pss["pod-security.kubernetes.io/enforce-version"] = "latest"
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {**labels(spec, host_key), **pss}},
    }


def namespaces(spec: FleetSpec, host: HostSpec) -> list[dict[str, Any]]:
    """The manager's namespace (restricted) and, when apart, the job namespace."""
    target = host.kubernetes
    assert target is not None
    job_level = job_pod_security_level(spec, host)
    if target.job_namespace == target.namespace:
        # Jobs share the manager's namespace: it must admit them (spec warns about this).
        return [_namespace(spec, host.key, target.namespace, job_level)]
    return [
        _namespace(spec, host.key, target.namespace, "restricted"),
        _namespace(spec, host.key, target.job_namespace, job_level),
    ]


def service_account(spec: FleetSpec, host: HostSpec) -> dict[str, Any]:
    assert host.kubernetes is not None
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": object_name(host.key),
            "namespace": host.kubernetes.namespace,
            "labels": labels(spec, host.key),
        },
        "automountServiceAccountToken": True,  # the manager talks to the API server in-cluster
    }


def role(spec: FleetSpec, host: HostSpec) -> dict[str, Any]:
    """Namespaced to where job pods run; no wildcards, no ClusterRole."""
    assert host.kubernetes is not None
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {
            "name": object_name(host.key),
            "namespace": host.kubernetes.job_namespace,
            "labels": labels(spec, host.key),
        },
        "rules": [dict(rule) for rule in EXECUTOR_RULES],
    }


def role_binding(spec: FleetSpec, host: HostSpec) -> dict[str, Any]:
    assert host.kubernetes is not None
    name = object_name(host.key)
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": host.kubernetes.job_namespace, "labels": labels(spec, host.key)},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": host.kubernetes.namespace}],
    }


def config_secret(spec: FleetSpec, host: HostSpec, config_toml: str) -> dict[str, Any]:
    """config.toml carries runner tokens: a Secret, never a ConfigMap."""
    assert host.kubernetes is not None
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": f"{object_name(host.key)}-config",
            "namespace": host.kubernetes.namespace,
            "labels": labels(spec, host.key),
        },
        "type": "Opaque",
        "stringData": {"config.toml": config_toml},
    }


def _manager_container(host: HostSpec) -> dict[str, Any]:
    return {
        "name": "manager",
        "image": host.runner_image,
        # Kubernetes stops pods with SIGTERM, which makes gitlab-runner abort jobs; dumb-init rewrites it
        # to SIGQUIT (15 -> 3): stop taking jobs, finish the running ones, exit.
        "command": ["/usr/bin/dumb-init", "--rewrite", "15:3", "--"],
        "args": ["gitlab-runner", "run", "--config", f"{CONFIG_DIR}/config.toml", "--working-directory", HOME],
        "env": [{"name": "HOME", "value": HOME}],
        "ports": [{"name": "metrics", "containerPort": versions.METRICS_PORT, "protocol": "TCP"}],
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
            {"name": "config", "mountPath": f"{CONFIG_DIR}/config.toml", "subPath": "config.toml", "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }


def deployment(spec: FleetSpec, host: HostSpec, config_checksum: str) -> dict[str, Any]:
    assert host.kubernetes is not None
    name = object_name(host.key)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": host.kubernetes.namespace, "labels": labels(spec, host.key)},
        "spec": {
            "replicas": 1,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector(spec, host.key)},
            # The new manager starts before the old one is asked to drain.
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {
                    "labels": labels(spec, host.key),
                    # A config change changes the pod template, so the manager rolls.
                    "annotations": {CHECKSUM_ANNOTATION: config_checksum},
                },
                "spec": {
                    "serviceAccountName": name,
                    "automountServiceAccountToken": True,
                    "terminationGracePeriodSeconds": spec.drain_seconds(host.key),
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": RUNNER_UID,
                        "runAsGroup": RUNNER_GID,
                        "fsGroup": RUNNER_GID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [_manager_container(host)],
                    "volumes": [
                        # 0440: readable by the runner through fsGroup, by nobody else.
                        {"name": "config", "secret": {"secretName": f"{name}-config", "defaultMode": 0o440}},
                        {"name": "config-dir", "emptyDir": {"sizeLimit": "16Mi"}},
                        {"name": "home", "emptyDir": {"sizeLimit": "1Gi"}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
                    ],
                },
            },
        },
    }


def metrics_service(spec: FleetSpec, host: HostSpec) -> dict[str, Any]:
    assert host.kubernetes is not None
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": f"{object_name(host.key)}-metrics",
            "namespace": host.kubernetes.namespace,
            "labels": labels(spec, host.key),
        },
        "spec": {
            "type": "ClusterIP",
            "selector": selector(spec, host.key),
            "ports": [{"name": "metrics", "port": versions.METRICS_PORT, "targetPort": "metrics", "protocol": "TCP"}],
        },
    }


def all_objects(spec: FleetSpec, host_key: str, config_toml: str, config_checksum: str) -> list[dict[str, Any]]:
    """Every object of the host, in apply order."""
    host = spec.host(host_key)
    return [
        *namespaces(spec, host),
        service_account(spec, host),
        role(spec, host),
        role_binding(spec, host),
        config_secret(spec, host, config_toml),
        deployment(spec, host, config_checksum),
        metrics_service(spec, host),
    ]
