"""render.admission: the job namespace's ValidatingAdmissionPolicy, its CEL evaluated for real (cel-python)
against the pods gitlab-runner 19.3 creates for runner-fleet's config (must be admitted) and hostile ones
(must be denied). An expression that errors counts as a denial, as it does under failurePolicy Fail."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable
from typing import Any

import celpy
import kubernetes_validate
import pytest

from components.render import admission, manifests
from tests.fleets import COMPANY, K8S_FLEET, K8S_MIXED, MIRROR
from tests.harness import kubernetes_target, manager_of, objects, of_kind, rendered, spec_of
from tests.render.job_pods import job_pod

_ENV = celpy.Environment()


def _programs(validations: tuple[tuple[str, str], ...]) -> list[tuple[str, Any]]:
    return [(message, _ENV.program(_ENV.compile(expression))) for message, expression in validations]


_PROGRAMS = _programs(admission.VALIDATIONS)
_MIRRORED = _programs(admission.validations(MIRROR))


def denials(pod: dict[str, Any], programs: list[tuple[str, Any]] = _PROGRAMS) -> list[str]:
    """The messages of every validation the pod fails (an evaluation error fails it)."""
    activation = {"object": celpy.json_to_cel(pod), "request": celpy.json_to_cel({"operation": "CREATE"})}
    failed = []
    for message, program in programs:
        try:
            result = program.evaluate(activation)
        except celpy.CELEvalError:
            failed.append(message)
            continue
        if not (isinstance(result, celpy.celtypes.BoolType) and bool(result)):
            failed.append(message)
    return failed


def _entries(fleet: dict[str, Any], host: str) -> dict[str, dict[str, Any]]:
    document = tomllib.loads(rendered(spec_of(fleet), host))
    return {entry["name"]: entry for entry in document["runners"]}


def buildkit_pod() -> dict[str, Any]:
    return job_pod(_entries(K8S_MIXED, "eu")["test-eu-images"], services=2)


def plain_pod() -> dict[str, Any]:
    return job_pod(_entries(K8S_MIXED, "eu")["test-eu-tests"], services=2)


def _container(pod: dict[str, Any], name: str) -> dict[str, Any]:
    every = (
        pod["spec"]["containers"] + pod["spec"].get("initContainers", []) + pod["spec"].get("ephemeralContainers", [])
    )
    (found,) = [c for c in every if c["name"] == name]
    return found


@pytest.mark.parametrize("make", [buildkit_pod, plain_pod], ids=["buildkit", "plain"])
def test_the_runner_s_own_pods_are_admitted(make: Callable[[], dict[str, Any]]) -> None:
    pod = make()
    assert denials(pod) == []
    # What admission adds before validation (the service account token), and baseline's SELinux types.
    pod["spec"]["volumes"].append({"name": "kube-api-access", "projected": {"sources": []}})
    pod["spec"]["securityContext"]["seLinuxOptions"] = {"type": "container_t", "level": "s0:c1,c2"}
    assert denials(pod) == []
    pod["spec"]["ephemeralContainers"] = [
        {"name": "debugger", "image": "busybox:1.37", "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}}
    ]
    assert denials(pod) == [], "a confined debug container is fine"


def test_the_fallback_host_s_annotation_pod_passes_the_same_rules() -> None:
    pod = job_pod(_entries(K8S_FLEET, "legacy")["test-old-images"])
    assert pod["metadata"]["annotations"] == {"container.apparmor.security.beta.kubernetes.io/build": "unconfined"}
    assert denials(pod) == []


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation: set `path` (container name or `pod`, then keys) on a BuildKit pod."""
    where, *keys = path.split(".")

    def mutate(pod: dict[str, Any]) -> None:
        node = pod["spec"] if where == "pod" else pod["metadata"] if where == "meta" else _container(pod, where)
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value

    return mutate


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    where, *keys = path.split(".")

    def mutate(pod: dict[str, Any]) -> None:
        node = pod["spec"] if where == "pod" else _container(pod, where)
        for key in keys[:-1]:
            node = node[key]
        del node[keys[-1]]

    return mutate


def _add(kind: str, container: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return lambda pod: pod["spec"].setdefault(kind, []).append(container)


def _volume(volume: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return lambda pod: pod["spec"]["volumes"].append(volume)


UNCONFINED = {"type": "Unconfined"}
HOSTILE: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "privileged build": (_set("build.securityContext.privileged", True), "privileged"),
    "privileged helper": (_set("helper.securityContext.privileged", True), "privileged"),
    "privileged init container": (_set("init-permissions.securityContext.privileged", True), "privileged"),
    "service adds SYS_ADMIN": (_set("svc-0.securityContext.capabilities.add", ["SYS_ADMIN"]), "capabilities"),
    "build adds NET_ADMIN": (_set("build.securityContext.capabilities.add", ["NET_ADMIN"]), "capabilities"),
    "unmasked /proc": (_set("build.securityContext.procMount", "Unmasked"), "unmasks /proc"),
    "hostPath /": (_volume({"name": "root", "hostPath": {"path": "/"}}), "hostPath"),
    "hostPath docker socket": (
        _volume({"name": "sock", "hostPath": {"path": "/var/run/docker.sock", "type": "Socket"}}),
        "hostPath",
    ),
    "host network": (_set("pod.hostNetwork", True), "host network"),
    "host PID": (_set("pod.hostPID", True), "host network, PID"),
    "host IPC": (_set("pod.hostIPC", True), "IPC"),
    "host port": (_set("svc-0.ports", [{"containerPort": 22, "hostPort": 2222}]), "host ports"),
    "helper seccomp unconfined": (_set("helper.securityContext.seccompProfile", UNCONFINED), "seccomp"),
    "service seccomp unconfined": (_set("svc-1.securityContext.seccompProfile", UNCONFINED), "seccomp"),
    "pod seccomp unconfined": (_set("pod.securityContext.seccompProfile", UNCONFINED), "seccomp"),
    "init container named like nothing, unconfined": (
        _set("init-permissions.securityContext.seccompProfile", UNCONFINED),
        "seccomp",
    ),
    "service without any seccomp profile": (
        lambda pod: [
            _drop("svc-0.securityContext.seccompProfile")(pod),
            _drop("pod.securityContext.seccompProfile")(pod),
        ],
        "seccomp",
    ),
    "build seccomp Localhost": (
        _set("build.securityContext.seccompProfile", {"type": "Localhost", "localhostProfile": "open.json"}),
        "seccomp",
    ),
    "helper AppArmor unconfined": (_set("helper.securityContext.appArmorProfile", UNCONFINED), "AppArmor"),
    "pod AppArmor unconfined": (_set("pod.securityContext.appArmorProfile", UNCONFINED), "AppArmor"),
    "service AppArmor Localhost": (
        _set("svc-0.securityContext.appArmorProfile", {"type": "Localhost", "localhostProfile": "open"}),
        "AppArmor",
    ),
    "helper AppArmor annotation unconfined": (
        _set("meta.annotations", {"container.apparmor.security.beta.kubernetes.io/helper": "unconfined"}),
        "annotations",
    ),
    "pod seccomp annotation": (
        _set("meta.annotations", {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}),
        "annotations",
    ),
    "container seccomp annotation": (
        _set("meta.annotations", {"container.seccomp.security.alpha.kubernetes.io/svc-0": "unconfined"}),
        "annotations",
    ),
    "unconfined build as root": (_set("build.securityContext.runAsUser", 0), "non-root"),
    "unconfined build may run as root": (_set("build.securityContext.runAsNonRoot", False), "non-root"),
    "unconfined build without a user": (
        lambda pod: [_drop("build.securityContext.runAsUser")(pod), _drop("build.securityContext.runAsNonRoot")(pod)],
        "non-root",
    ),
    "unconfined build as root through the pod": (
        lambda pod: [_drop("build.securityContext.runAsUser")(pod), _set("pod.securityContext.runAsUser", 0)(pod)],
        "non-root",
    ),
    "unconfined init container named build": (
        lambda pod: [
            _set("build.name", "main")(pod),
            _add(
                "initContainers", {"name": "build", "image": "x:1", "securityContext": {"seccompProfile": UNCONFINED}}
            )(pod),
        ],
        "seccomp",
    ),
    "privileged ephemeral container": (
        _add(
            "ephemeralContainers", {"name": "debug", "image": "busybox:1.37", "securityContext": {"privileged": True}}
        ),
        "privileged",
    ),
    "unconfined ephemeral container": (
        _add(
            "ephemeralContainers",
            {"name": "debug", "image": "busybox:1.37", "securityContext": {"seccompProfile": UNCONFINED}},
        ),
        "seccomp",
    ),
    "ephemeral container named build, unconfined": (
        _add(
            "ephemeralContainers",
            {"name": "build", "image": "busybox:1.37", "securityContext": {"seccompProfile": UNCONFINED}},
        ),
        "seccomp",
    ),
    "container as SELinux super-privileged": (
        _set("svc-0.securityContext.seLinuxOptions", {"type": "spc_t"}),
        "SELinux",
    ),
    "pod as SELinux super-privileged": (_set("pod.securityContext.seLinuxOptions", {"type": "spc_t"}), "SELinux"),
    "SELinux user": (_set("build.securityContext.seLinuxOptions", {"user": "system_u"}), "SELinux"),
    "unsafe sysctl": (_set("pod.securityContext.sysctls", [{"name": "kernel.msgmax", "value": "1"}]), "sysctls"),
    "NFS volume": (_volume({"name": "n", "nfs": {"server": "10.0.0.1", "path": "/"}}), "volumes: only"),
    "CSI volume": (_volume({"name": "c", "csi": {"driver": "x.csi"}}), "volumes: only"),
    "gitRepo volume": (_volume({"name": "g", "gitRepo": {"repository": "https://x/y.git"}}), "volumes: only"),
    "claim volume": (_volume({"name": "p", "persistentVolumeClaim": {"claimName": "x"}}), "volumes: only"),
    "unconfined build of another image": (_set("build.image", "evil.example.com/setuid-root:1"), "BuildKit image"),
    "unconfined build in group root": (_set("build.securityContext.runAsGroup", 0), "runAsGroup"),
    "supplemental group root": (_set("pod.securityContext.supplementalGroups", [0]), "supplemental group"),
    "fsGroup root": (_set("pod.securityContext.fsGroup", 0), "fsGroup 0"),
    "unconfined build without a group": (_drop("build.securityContext.runAsGroup"), "runAsGroup (both set)"),
    "a resource claim": (
        _set("pod.resourceClaims", [{"name": "gpu", "resourceClaimTemplateName": "gpu"}]),
        "resource claims",
    ),
    "pinned to a node": (_set("pod.nodeName", "control-plane-1"), "nodeName"),
    "tolerates everything": (_set("pod.tolerations", [{"operator": "Exists"}]), "catch-all toleration"),
    "another runtime": (_set("pod.runtimeClassName", "nvidia"), "runtime class"),
    "shared process namespace": (_set("pod.shareProcessNamespace", True), "shared process namespace"),
    "another service account": (_set("pod.serviceAccountName", "gitlab-runner-eu"), "service account"),
    "system priority": (_set("pod.priorityClassName", "system-node-critical"), "system priority class"),
    "a device": (_set("build.resources", {"limits": {"smarter-devices/fuse": "1"}}), "resources: only"),
    "wrong type where a flag belongs": (_set("build.securityContext.privileged", "true"), "privileged"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_pods_are_denied(case: str) -> None:
    mutate, expected = HOSTILE[case]
    pod = buildkit_pod()
    mutate(pod)
    failed = denials(pod)
    assert failed, f"{case}: admitted"
    assert any(expected in message for message in failed), (case, failed)


def test_a_plain_runner_s_build_container_may_not_be_unconfined() -> None:
    pod = plain_pod()
    pod["spec"]["containers"][0]["securityContext"]["seccompProfile"] = UNCONFINED
    pod["spec"]["containers"][0]["securityContext"].update(runAsNonRoot=True, runAsUser=1000, runAsGroup=1000)
    # Unconfined and non-root, but not moby's rootless BuildKit image: anything else could carry a setuid root
    # binary and become root with seccomp and AppArmor off.
    assert any("rootless BuildKit image" in m for m in denials(pod))
    pod["spec"]["containers"][0]["image"] = "docker.io/moby/buildkit:v0.32.2-rootless"
    assert denials(pod) == []
    pod["spec"]["containers"][0]["securityContext"]["runAsUser"] = 0
    assert denials(pod)


def test_updates_of_a_scheduled_pod_pass() -> None:
    pod = buildkit_pod()
    pod["spec"]["nodeName"] = "node-1"
    activation = {"object": celpy.json_to_cel(pod), "request": celpy.json_to_cel({"operation": "UPDATE"})}
    assert all(bool(program.evaluate(activation)) for _, program in _PROGRAMS)
    assert any("nodeName" in m for m in denials(pod)), "but a pod created onto a node of its own choosing is not"


def test_objects_are_bound_to_the_job_namespace_only_and_validate() -> None:
    spec = spec_of(K8S_MIXED)
    eu = objects(spec, "eu")
    (policy,) = of_kind(eu, "ValidatingAdmissionPolicy")
    (binding,) = of_kind(eu, "ValidatingAdmissionPolicyBinding")
    assert policy["metadata"]["name"] == binding["spec"]["policyName"] == "runner-fleet-jobs-builds"
    assert binding["spec"]["validationActions"] == ["Deny"]
    assert binding["spec"]["matchResources"]["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "builds"}
    }
    assert policy["spec"]["failurePolicy"] == "Fail"
    (rule,) = policy["spec"]["matchConstraints"]["resourceRules"]
    assert set(rule["resources"]) == {"pods", "pods/ephemeralcontainers"} and set(rule["operations"]) == {
        "CREATE",
        "UPDATE",
    }
    for version in ("1.30.0", "1.34.0", "1.37.0"):
        kubernetes_validate.validate(policy, version, strict=True)
        kubernetes_validate.validate(binding, version, strict=True)
    us = objects(spec, "us")
    assert of_kind(us, "ValidatingAdmissionPolicyBinding")[0]["spec"]["matchResources"]["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "runners-jobs"}
    }


def test_clusters_before_1_30_get_no_policy() -> None:
    spec = spec_of(K8S_FLEET)
    assert not of_kind(objects(spec, "legacy"), "ValidatingAdmissionPolicy")
    assert not admission.applies(kubernetes_target(manager_of(spec, "legacy")))
    assert of_kind(objects(spec, "cluster"), "ValidatingAdmissionPolicy")


def test_every_expression_compiles_and_messages_are_distinct() -> None:
    messages = [message for message, _ in admission.VALIDATIONS]
    assert len(set(messages)) == len(messages)
    for _, expression in admission.VALIDATIONS:
        _ENV.compile(expression)  # raises on a syntax error
    labels = manifests.labels(manager_of(spec_of(K8S_MIXED), "eu"))
    assert (
        admission.binding(kubernetes_target(manager_of(spec_of(K8S_MIXED), "eu")), labels)["metadata"]["labels"]
        == labels
    )


def test_mutations_do_not_leak_between_cases() -> None:
    first = buildkit_pod()
    HOSTILE["privileged build"][0](copy.deepcopy(first))
    assert denials(buildkit_pod()) == []


def test_under_a_mirror_only_the_mirror_s_rootless_buildkit_runs_unconfined() -> None:
    values = {**COMPANY, **dict.fromkeys(_COMPANY_KEYS, "[secret]")}
    entries = {
        e["name"]: e for e in tomllib.loads(rendered(spec_of(values, secret_keys=_COMPANY_KEYS), "cluster"))["runners"]
    }
    pod = job_pod(entries["test-k8s-images"])
    assert [v for v in pod["spec"]["volumes"] if "secret" in v], "job pods mount the GitLab CA"
    assert denials(pod, _MIRRORED) == []
    assert denials(pod) != [], "the policy without a mirror admits Docker Hub's image only"
    for image in (
        "moby/buildkit:v0.32.2-rootless",
        "docker.io/moby/buildkit:v0.32.2-rootless",
        "registry.corp.test/other/moby/buildkit:v0.32.2-rootless",
        "registryXcorp.test/mirror/moby/buildkit:v0.32.2-rootless",
        f"{MIRROR}/moby/buildkit:latest",
        f"evil.test/{MIRROR}/moby/buildkit:v0.32.2-rootless",
    ):
        _container(pod, "build")["image"] = image
        assert denials(pod, _MIRRORED), image
    confined = job_pod(entries["test-internal"])
    assert denials(confined, _MIRRORED) == []


_COMPANY_KEYS = ("cacheAccessKey", "cacheSecretKey", "registryAuth")
