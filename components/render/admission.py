"""The job namespace's admission guard: a ValidatingAdmissionPolicy and its binding. Pure: no Pulumi, no I/O.

BuildKit needs Pod Security `privileged` in the job namespace, and `privileged` admits anything: whoever holds
`pods create` there (the manager's service account, or a job that got hold of its token) could start a
privileged or hostPath pod. This policy admits only what gitlab-runner creates for runner-fleet's config
(render/config_toml.py), as a positive model per container:
- seccomp: every container's effective profile (its own, else the pod's) is `RuntimeDefault`; only the
  container named `build` may be `Unconfined`. AppArmor: unset or `RuntimeDefault`; only `build` may be
  `Unconfined`. The same for the deprecated annotations. `Localhost` profiles are refused (not ours).
- an unconfined `build` container runs as non-root: `runAsNonRoot: true` and a non-zero `runAsUser`
  (its own, else the pod's). Other containers are not constrained on their user.
- never `privileged`, added capabilities, `procMount: Unmasked`, host ports, hostPath volumes, or the host's
  network, PID or IPC namespaces.
It covers init and ephemeral containers, on create and update (including `pods/ephemeralcontainers`).
ValidatingAdmissionPolicy is GA in Kubernetes 1.30 (admissionregistration.k8s.io/v1); hosts with
`appArmorAnnotationFallback` (clusters < 1.30) get none, and the README says so.
https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/
"""

from __future__ import annotations

from typing import Any

from components.domain.model import ManagerSpec
from components.domain.targets import KubernetesTarget

API_VERSION = "admissionregistration.k8s.io/v1"
BUILD = "build"  # gitlab-runner's name for the job's own container
APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_ANNOTATION_PREFIX = "container.seccomp.security.alpha.kubernetes.io/"
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
BUILDKIT_IMAGE = r"^(docker\\.io/)?moby/buildkit:[A-Za-z0-9._-]*rootless(@sha256:[0-9a-f]{64})?$"
"""The images an unconfined build container may run (RE2, as CEL's matches() reads it): moby's rootless BuildKit."""


def buildkit_image(mirror: str | None) -> str:
    """BUILDKIT_IMAGE, or under a registry mirror the same image under the mirror's path only (a mirror is
    host[:port][/path] of letters, digits, '.', '-', '_', ':' and '/': only '.' needs escaping)."""
    if mirror is None:
        return BUILDKIT_IMAGE
    return BUILDKIT_IMAGE.replace(r"(docker\\.io/)?", mirror.replace(".", r"\\.") + "/")


RESOURCE_NAMES = ("cpu", "memory", "ephemeral-storage")
"""What a job container may request: the runner sets these; device plugins (GPUs, /dev/fuse) are not modelled."""
VOLUME_KINDS = ("emptyDir", "configMap", "secret", "projected", "downwardAPI")
"""The volume kinds gitlab-runner's pods use (scratch space, scripts, CA certs, service account tokens)."""
SELINUX_TYPES = ("container_t", "container_init_t", "container_kvm_t", "container_engine_t")
"""The SELinux types Pod Security baseline admits (besides none); `spc_t` would unconfine a container."""


def policy_name(target: KubernetesTarget) -> str:
    """Cluster-scoped, so named after the job namespace it guards (a namespace name is a valid suffix)."""
    return f"runner-fleet-jobs-{target.job_namespace}"


def applies(target: KubernetesTarget) -> bool:
    """Clusters older than 1.30 (the AppArmor annotation fallback) have no admissionregistration.k8s.io/v1 VAP."""
    return not target.apparmor_fallback


def _list(name: str) -> str:
    return f"(has(object.spec.{name}) ? object.spec.{name} : [])"


def _every_container(predicate: str, *, only: tuple[str, ...] = CONTAINER_LISTS) -> str:
    """`predicate` (over `c`) for every container of the lists in `only`."""
    return " && ".join(f"{_list(name)}.all(c, {predicate})" for name in only)


def _field(path: str) -> str:
    """`has()` for every step of a dotted path below `c`, e.g. securityContext.seccompProfile.type."""
    steps = path.split(".")
    return " && ".join(f"has(c.{'.'.join(steps[: i + 1])})" for i in range(len(steps)))


_POD_CONTEXT = "has(object.spec.securityContext)"


def _pod_profile(field: str) -> str:
    """The pod-level profile type, or '' when the pod sets none."""
    at = f"object.spec.securityContext.{field}"
    return f"({_POD_CONTEXT} && has({at}) ? {at}.type : '')"


_SELINUX_OK = (
    "(!has({at}.type) || {at}.type in ['', "
    + ", ".join(f"'{t}'" for t in SELINUX_TYPES)
    + "]) && !has({at}.user) && !has({at}.role)"
)
_POD_SECCOMP = _pod_profile("seccompProfile")
_POD_APPARMOR = _pod_profile("appArmorProfile")
_SECCOMP = f"({_field('securityContext.seccompProfile')} ? c.securityContext.seccompProfile.type : {_POD_SECCOMP})"
_APPARMOR = f"({_field('securityContext.appArmorProfile')} ? c.securityContext.appArmorProfile.type : {_POD_APPARMOR})"
_ANNOTATIONS = "(has(object.metadata.annotations) ? object.metadata.annotations : {})"
_APPARMOR_ANNOTATION = f"'{APPARMOR_ANNOTATION_PREFIX}' + c.name"
_NON_ROOT = (
    f"(({_field('securityContext.runAsNonRoot')}) ? c.securityContext.runAsNonRoot :"
    f" ({_POD_CONTEXT} && has(object.spec.securityContext.runAsNonRoot) && object.spec.securityContext.runAsNonRoot))"
)
_USER = (
    f"(({_field('securityContext.runAsUser')}) ? c.securityContext.runAsUser :"
    f" ({_POD_CONTEXT} && has(object.spec.securityContext.runAsUser) ? object.spec.securityContext.runAsUser : 0))"
)
_RESOURCE_LIST = "[" + ", ".join(f"'{name}'" for name in RESOURCE_NAMES) + "]"
_GROUP = (
    f"(({_field('securityContext.runAsGroup')}) ? c.securityContext.runAsGroup :"
    f" ({_POD_CONTEXT} && has(object.spec.securityContext.runAsGroup) ? object.spec.securityContext.runAsGroup : -1))"
)
_UNCONFINED_BUILD = (
    f"c.name == '{BUILD}' && ({_SECCOMP} == 'Unconfined' || {_APPARMOR} == 'Unconfined'"
    f" || ({_APPARMOR_ANNOTATION} in {_ANNOTATIONS} && {_ANNOTATIONS}[{_APPARMOR_ANNOTATION}] == 'unconfined'))"
)


def _profile_rule(effective: str, pod_level: str, confined: str) -> str:
    """Every container's effective profile (`effective`, over `c`) is `confined`; only the container named
    `build` in `containers` may be Unconfined; the pod-level profile (`pod_level`) is never Unconfined."""
    build = f"(c.name == '{BUILD}' && {effective} == 'Unconfined')"
    return (
        f"{pod_level} in ['', 'RuntimeDefault'] && "
        + _every_container(f"{effective} {confined} || {build}", only=("containers",))
        + " && "
        + _every_container(f"{effective} {confined}", only=("initContainers", "ephemeralContainers"))
    )


VALIDATIONS: tuple[tuple[str, str], ...] = (
    (
        "seccomp: every container RuntimeDefault (its own or the pod's); only the build container may be Unconfined",
        _profile_rule(_SECCOMP, _POD_SECCOMP, "== 'RuntimeDefault'"),
    ),
    (
        "AppArmor: unset or RuntimeDefault; only the build container may be Unconfined",
        _profile_rule(_APPARMOR, _POD_APPARMOR, "in ['', 'RuntimeDefault']"),
    ),
    (
        "annotations: AppArmor runtime/default (unconfined only for the build container), seccomp annotations never",
        f"{_ANNOTATIONS}.all(k, !k.startsWith('{APPARMOR_ANNOTATION_PREFIX}') || {_ANNOTATIONS}[k] == 'runtime/default'"
        f" || (k == '{APPARMOR_ANNOTATION_PREFIX}{BUILD}' && {_ANNOTATIONS}[k] == 'unconfined'))"
        f" && {_ANNOTATIONS}.all(k, k != '{SECCOMP_POD_ANNOTATION}' && !k.startsWith('{SECCOMP_ANNOTATION_PREFIX}'))",
    ),
    (
        "an unconfined build container runs moby's rootless BuildKit image as non-root: runAsNonRoot true, a "
        "non-zero runAsUser and runAsGroup (both set), no supplemental group or fsGroup 0",
        _every_container(
            f"!({_UNCONFINED_BUILD}) || ({_NON_ROOT} == true && {_USER} > 0 && {_GROUP} > 0"
            f" && c.image.matches('{BUILDKIT_IMAGE}')"
            f" && !({_POD_CONTEXT} && has(object.spec.securityContext.supplementalGroups)"
            " && 0 in object.spec.securityContext.supplementalGroups)"
            f" && !({_POD_CONTEXT} && has(object.spec.securityContext.fsGroup)"
            " && object.spec.securityContext.fsGroup == 0))"
        ),
    ),
    (
        "scheduling and identity as the runner sets them: no nodeName, runtime class, shared process namespace, "
        "service account other than default, catch-all toleration or system priority class",
        "(request.operation != 'CREATE' || !has(object.spec.nodeName))"
        " && !has(object.spec.runtimeClassName)"
        " && !(has(object.spec.shareProcessNamespace) && object.spec.shareProcessNamespace)"
        " && (!has(object.spec.serviceAccountName) || object.spec.serviceAccountName == 'default')"
        " && (has(object.spec.tolerations) ? object.spec.tolerations : [])"
        ".all(t, !(has(t.operator) && t.operator == 'Exists' && (!has(t.key) || t.key == '')))"
        " && !(has(object.spec.priorityClassName) && object.spec.priorityClassName.startsWith('system-'))",
    ),
    (
        f"resources: only {', '.join(RESOURCE_NAMES)} (no devices, no resource claims)",
        "!has(object.spec.resourceClaims) && "
        + _every_container(
            "!has(c.resources) || (!has(c.resources.claims) && "
            + " && ".join(
                f"(!has(c.resources.{kind}) || c.resources.{kind}.all(r, r in {_RESOURCE_LIST}))"
                for kind in ("requests", "limits")
            )
            + ")"
        ),
    ),
    (
        "no container is privileged, adds capabilities or unmasks /proc",
        _every_container(
            f"!({_field('securityContext.privileged')} && c.securityContext.privileged)"
            f" && !({_field('securityContext.capabilities.add')} && size(c.securityContext.capabilities.add) > 0)"
            f" && !({_field('securityContext.procMount')} && c.securityContext.procMount != 'Default')"
        ),
    ),
    (
        "SELinux: only the container types Pod Security baseline allows; no sysctls",
        f"!({_POD_CONTEXT} && has(object.spec.securityContext.sysctls)"
        " && size(object.spec.securityContext.sysctls) > 0)"
        f" && !({_POD_CONTEXT} && has(object.spec.securityContext.seLinuxOptions)"
        f" && !({_SELINUX_OK.format(at='object.spec.securityContext.seLinuxOptions')}))"
        " && "
        + _every_container(
            f"!({_field('securityContext.seLinuxOptions')}"
            f" && !({_SELINUX_OK.format(at='c.securityContext.seLinuxOptions')}))"
        ),
    ),
    (
        f"volumes: only {', '.join(VOLUME_KINDS)} (what the runner creates)",
        "(has(object.spec.volumes) ? object.spec.volumes : []).all(v, "
        + " || ".join(f"has(v.{kind})" for kind in VOLUME_KINDS)
        + ")",
    ),
    (
        "no host ports, hostPath volumes or host network, PID or IPC namespaces",
        "!(has(object.spec.hostNetwork) && object.spec.hostNetwork)"
        " && !(has(object.spec.hostPID) && object.spec.hostPID)"
        " && !(has(object.spec.hostIPC) && object.spec.hostIPC)"
        " && (has(object.spec.volumes) ? object.spec.volumes : []).all(v, !has(v.hostPath))"
        " && " + _every_container("!has(c.ports) || c.ports.all(p, !has(p.hostPort) || p.hostPort == 0)"),
    ),
)
"""(message, CEL expression over `object`, a Pod): every one must hold for the pod to be admitted."""


def validations(mirror: str | None) -> tuple[tuple[str, str], ...]:
    """VALIDATIONS with the BuildKit image under `mirror` when there is one."""
    image = buildkit_image(mirror)
    return tuple((message, expression.replace(BUILDKIT_IMAGE, image)) for message, expression in VALIDATIONS)


def policy(manager: ManagerSpec, target: KubernetesTarget, labels: dict[str, str]) -> dict[str, Any]:
    """The ValidatingAdmissionPolicy: pods, created or updated, including ephemeral containers."""
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": policy_name(target), "labels": labels},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["pods", "pods/ephemeralcontainers"],
                    }
                ]
            },
            "validations": [
                {
                    "expression": expression,
                    "message": f"runner-fleet ({manager.host.key}): {message}",
                    "reason": "Forbidden",
                }
                for message, expression in validations(manager.registry_mirror)
            ],
        },
    }


def binding(target: KubernetesTarget, labels: dict[str, str]) -> dict[str, Any]:
    """The binding: the policy denies, in the job namespace only."""
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": policy_name(target), "labels": labels},
        "spec": {
            "policyName": policy_name(target),
            "validationActions": ["Deny"],
            "matchResources": {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": target.job_namespace}}
            },
        },
    }
