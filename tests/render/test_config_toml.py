"""render.config_toml: pure rendering of config.toml, checked against golden files and gitlab-runner's schema."""

from __future__ import annotations

import os
import tomllib
from typing import Any

import pytest

from components.domain import model, versions
from components.domain.model import FleetSpec
from components.render import config_toml
from tests.conftest import GOLDEN
from tests.fleets import K8S_FLEET, fleet
from tests.harness import manager_of, rendered, spec_of, validate_text


def _doc(spec: FleetSpec, host: str) -> dict[str, Any]:
    return tomllib.loads(rendered(spec, host))


def _entry(spec: FleetSpec, host: str, name: str) -> dict[str, Any]:
    (entry,) = [r for r in _doc(spec, host)["runners"] if r["name"] == f"{spec.stack}-{name}"]
    return entry


def _all_values(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return [v for x in node.values() for v in _all_values(x)] + list(node)
    if isinstance(node, list):
        return [v for x in node for v in _all_values(x)]
    return [node]


@pytest.mark.parametrize(
    ("fleet_name", "values", "host"),
    [("docker", fleet(), h) for h in ("edge-1", "edge-2", "edge-3")]
    + [("k8s", K8S_FLEET, h) for h in ("cluster", "legacy")],
)
def test_golden_files(fleet_name: str, values: dict[str, Any], host: str) -> None:
    text = rendered(spec_of(values), host)
    golden = GOLDEN / f"{fleet_name}-{host}.config.toml"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text(), f"{golden.name} differs; review, then UPDATE_GOLDEN=1 make test"
    assert validate_text(text) == []


def test_global_section() -> None:
    doc = _doc(spec_of(fleet()), "edge-1")
    assert doc["concurrent"] == 6
    assert doc["check_interval"] == 3 and doc["shutdown_timeout"] == 30
    assert doc["log_format"] == "json"
    assert doc["listen_address"] == ":9252"
    assert [r["name"] for r in doc["runners"]] == ["test-images", "test-unit"]


def test_tokens_are_spliced_verbatim() -> None:
    spec = spec_of(fleet())
    text = config_toml.render(manager_of(spec, "edge-1"), {"images": "glrt-AAA", "unit": "glrt-BBB"})
    doc = tomllib.loads(text)
    assert [(r["name"], r["token"], r["url"]) for r in doc["runners"]] == [
        ("test-images", "glrt-AAA", "https://gitlab.acme.test"),
        ("test-unit", "glrt-BBB", "https://gitlab.acme.test"),
    ]
    assert text.count("glrt-") == 2


def test_docker_buildkit_profile() -> None:
    entry = _entry(spec_of(fleet()), "edge-1", "images")
    docker = entry["docker"]
    assert entry["executor"] == "docker" and entry["limit"] == 3
    assert docker["security_opt"] == ["seccomp=unconfined", "apparmor=unconfined"]
    assert docker["privileged"] is False and docker["services_privileged"] is False
    assert docker["disable_entrypoint_overwrite"] is False
    assert "BUILDKITD_FLAGS=--oci-worker-no-process-sandbox" in entry["environment"]
    assert docker["image"] == versions.BUILDKIT_IMAGE
    assert docker["allowed_images"] == list(model.BUILDKIT_ALLOWED_IMAGES)
    assert docker["allowed_users"] == ["1000", "user"]
    assert docker["pull_policy"] == ["always"] and docker["allowed_pull_policies"] == ["always"]
    assert "services_security_opt" not in docker and "cap_add" not in docker


def test_plain_docker_runner_gets_no_relaxation() -> None:
    spec = spec_of(fleet())
    for host, name in (("edge-1", "unit"), ("edge-2", "shared"), ("edge-3", "release")):
        entry = _entry(spec, host, name)
        docker = entry["docker"]
        assert docker["privileged"] is False
        for key in ("security_opt", "services_security_opt", "cap_add", "allowed_privileged_images"):
            assert key not in docker, (name, key)
        assert "environment" not in entry
        assert not any("unconfined" in str(v).lower() for v in _all_values(entry)), name


def test_allowed_images_can_be_narrowed() -> None:
    values = fleet()
    values["runners"]["images"].update(
        allowedImages=["docker.io/moby/buildkit:v0.32.*-rootless"],
        image="docker.io/moby/buildkit:v0.32.2-rootless",
    )
    docker = _entry(spec_of(values), "edge-1", "images")["docker"]
    assert docker["allowed_images"] == ["docker.io/moby/buildkit:v0.32.*-rootless"]
    assert docker["image"] == "docker.io/moby/buildkit:v0.32.2-rootless"


def test_extra_config_is_merged() -> None:
    values = fleet()
    values["runners"]["unit"]["extraConfig"] = (
        'output_limit = 8192\nenvironment = ["GIT_DEPTH=10"]\n'
        '[docker]\nvolumes = ["/cache", "/certs/client"]\nmemory = "2g"\n'
    )
    values["runners"]["unit"]["cache"] = {"type": "s3", "shared": True, "s3": {"bucketName": "ci-cache"}}
    entry = _entry(spec_of(values), "edge-1", "unit")
    assert entry["output_limit"] == 8192
    assert entry["environment"] == ["GIT_DEPTH=10"]
    assert entry["docker"]["volumes"] == ["/cache", "/certs/client"], "extraConfig overrides defaults"
    assert entry["docker"]["memory"] == "2g"
    assert entry["docker"]["privileged"] is False
    assert entry["cache"] == {
        "Type": "s3",
        "Shared": True,
        "s3": {"BucketName": "ci-cache", "Insecure": False, "AuthenticationType": "iam"},
    }
    assert validate_text(rendered(spec_of(values), "edge-1")) == []


def test_buildkit_environment_keeps_its_flags_and_adds_extra() -> None:
    values = fleet()
    values["runners"]["images"]["extraConfig"] = 'environment = ["BUILDKIT_PROGRESS=plain"]\n'
    env = _entry(spec_of(values), "edge-1", "images")["environment"]
    assert env == ["BUILDKITD_FLAGS=--oci-worker-no-process-sandbox", "BUILDKIT_PROGRESS=plain"]


def test_kubernetes_buildkit_build_container_only_is_unconfined() -> None:
    entry = _entry(spec_of(K8S_FLEET), "cluster", "images")
    k8s = entry["kubernetes"]
    assert k8s["namespace"] == "ci-jobs" and k8s["privileged"] is False
    build = k8s["build_container_security_context"]
    assert build["seccomp_profile"] == {"type": "Unconfined"}
    assert build["app_armor_profile"] == {"type": "Unconfined"}
    assert build["run_as_user"] == 1000 and build["run_as_non_root"] is True
    # no_new_privs breaks rootlesskit's setuid newuidmap: nothing that reaches the build container sets it.
    assert "allow_privilege_escalation" not in build and "allow_privilege_escalation" not in k8s
    for other in ("helper_container_security_context", "service_container_security_context"):
        assert k8s[other]["seccomp_profile"] == {"type": "RuntimeDefault"}
        assert k8s[other]["capabilities"] == {"drop": ["ALL"]}
        assert k8s[other]["allow_privilege_escalation"] is False
    assert k8s["pod_security_context"]["seccomp_profile"] == {"type": "RuntimeDefault"}
    unconfined = [v for v in _all_values(k8s) if v == "Unconfined"]
    assert len(unconfined) == 2, "only the build container's seccomp and AppArmor profiles"
    assert "BUILDKITD_FLAGS=--oci-worker-no-process-sandbox" in entry["environment"]
    assert k8s["volumes"]["empty_dir"] == [{"name": "buildkit-state", "mount_path": "/home/user/.local/share/buildkit"}]
    assert k8s["ephemeral_storage_request"] and k8s["ephemeral_storage_limit"]
    assert k8s["allowed_images"] == list(model.BUILDKIT_ALLOWED_IMAGES)
    assert k8s["node_selector"] == {"pool": "builds"}
    assert k8s["node_tolerations"] == {"dedicated=builds": "NoSchedule"}


def test_kubernetes_plain_runner_gets_no_relaxation() -> None:
    entry = _entry(spec_of(K8S_FLEET), "cluster", "lint")
    k8s = entry["kubernetes"]
    assert "Unconfined" not in _all_values(k8s)
    assert k8s["build_container_security_context"] == {"seccomp_profile": {"type": "RuntimeDefault"}}
    assert "environment" not in entry and "volumes" not in k8s and "pod_annotations" not in k8s


def test_apparmor_fallback_is_explicit_and_uses_the_annotation() -> None:
    k8s = _entry(spec_of(K8S_FLEET), "legacy", "old-images")["kubernetes"]
    assert "app_armor_profile" not in k8s["build_container_security_context"]
    assert k8s["build_container_security_context"]["seccomp_profile"] == {"type": "Unconfined"}
    assert k8s["pod_annotations"] == {"container.apparmor.security.beta.kubernetes.io/build": "unconfined"}
    assert _entry(spec_of(K8S_FLEET), "cluster", "images")["kubernetes"].get("pod_annotations") is None
