"""The manager's container in its pod, as a plain manifest part. Pure: no Pulumi, no I/O.

`render/manifests.py` puts it into each manager Deployment's pod template: the pinned image, SIGTERM rewritten to
SIGQUIT (gitlab-runner drains on SIGQUIT; Kubernetes stops pods with SIGTERM), local probes on the metrics listener,
a hardened security context, and config.toml, the manager's system id and the GitLab CA mounted as single files
from the config Secret. https://docs.gitlab.com/runner/commands/#signals
"""

from __future__ import annotations

from typing import Any

from components.domain import site
from components.domain.model import ManagerSpec
from components.render.config_toml import METRICS_PORT, manager_ca_file

RUNNER_UID = 100  # gitlab-runner user of the alpine image
RUNNER_GID = 65533
HOME = "/home/gitlab-runner"
CONFIG_DIR = f"{HOME}/.gitlab-runner"
CONFIG_KEY = "config.toml"  # the Secret's key, and the file name under CONFIG_DIR
CA_KEY = site.CA_FILE  # the GitLab CA's key in the config Secret and in the job namespace's CA Secret
SYSTEM_ID_KEY = ".runner_system_id"  # the Secret's key, and the file gitlab-runner reads next to config.toml
MANAGER_ALWAYS_DIRECT = ("$(KUBERNETES_SERVICE_HOST)", ".svc", ".cluster.local", "localhost", "127.0.0.1")
"""Never through the proxy for the manager: the API server (its service IP, which the kubelet expands from the
service environment), cluster-internal names and the pod itself."""


def _manager_env(manager: ManagerSpec) -> list[dict[str, str]]:
    """HOME, and the host's proxy; the API server (in-cluster, by its service IP) and cluster names direct."""
    env = [{"name": "HOME", "value": HOME}]
    if manager.host.proxy is not None:
        env += [{"name": k, "value": v} for k, v in manager.host.proxy.environment(MANAGER_ALWAYS_DIRECT)]
    return env


def manager_container(manager: ManagerSpec, identity_key: str = SYSTEM_ID_KEY) -> dict[str, Any]:
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
                "subPath": identity_key,
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
