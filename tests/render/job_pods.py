"""The pods gitlab-runner 19.3's kubernetes executor creates for a [[runners]] entry, for the admission tests.

The executor names the job's container `build`, the helper `helper`, services `svc-<n>` and the init container
that prepares shared volumes `init-permissions`; each takes the matching `*_security_context` section of the
entry (TOML snake_case, turned into the API's camelCase), the pod takes `pod_security_context` and
`pod_annotations`; `privileged` goes on build and service containers, and NET_RAW is dropped by default.
https://docs.gitlab.com/runner/executors/kubernetes/#container-and-pod-security-context
"""

from __future__ import annotations

import copy
from typing import Any


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.capitalize() for part in rest)


def context(section: dict[str, Any]) -> dict[str, Any]:
    """A runner security-context section as the API's securityContext."""
    out: dict[str, Any] = {}
    for key, value in section.items():
        name = {"app_armor_profile": "appArmorProfile"}.get(key, _camel(key))
        out[name] = context(value) if isinstance(value, dict) else copy.deepcopy(value)
    return out


def _container(name: str, image: str, section: dict[str, Any], *, privileged: bool | None) -> dict[str, Any]:
    security = context(section)
    if privileged is not None:
        security.setdefault("privileged", privileged)
        caps = security.setdefault("capabilities", {})
        caps.setdefault("drop", ["NET_RAW"])
    return {"name": name, "image": image, "securityContext": security}


def job_pod(entry: dict[str, Any], *, services: int = 1) -> dict[str, Any]:
    """The job pod for a [[runners]] entry (a kubernetes runner), with `services` service containers."""
    k8s = entry["kubernetes"]
    helper = k8s.get(
        "helper_image", "registry.gitlab.com/gitlab-org/gitlab-runner/gitlab-runner-helper:alpine-latest-v19.3.0"
    )
    privileged = bool(k8s.get("privileged", False))
    containers = [
        _container("build", k8s["image"], k8s.get("build_container_security_context", {}), privileged=privileged),
        _container("helper", helper, k8s.get("helper_container_security_context", {}), privileged=None),
    ]
    for n in range(services):
        section = k8s.get("service_container_security_context", {})
        containers.append(_container(f"svc-{n}", "postgres:17.2", section, privileged=privileged))
    init = _container(
        "init-permissions", helper, k8s.get("init_permissions_container_security_context", {}), privileged=None
    )
    volumes: list[dict[str, Any]] = [{"name": "repo", "emptyDir": {}}, {"name": "scripts", "emptyDir": {}}]
    volumes += [{"name": v["name"], "emptyDir": {}} for v in k8s.get("volumes", {}).get("empty_dir", [])]
    volumes += [
        {"name": v["name"], "secret": {"secretName": v["name"]}} for v in k8s.get("volumes", {}).get("secret", [])
    ]
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "runner-abc-project-1-concurrent-0", "namespace": k8s["namespace"]},
        "spec": {
            "securityContext": context(k8s.get("pod_security_context", {})),
            "initContainers": [init],
            "containers": containers,
            "volumes": volumes,
            "restartPolicy": "Never",
        },
    }
    if k8s.get("pod_annotations"):
        pod["metadata"]["annotations"] = dict(k8s["pod_annotations"])
    return pod
