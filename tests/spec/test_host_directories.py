"""hostDirectories: the one way a job reaches the host's file system, every spelling of a sensitive path refused."""

from __future__ import annotations

import copy
import tomllib
from typing import Any

import pytest

from components.domain.host_paths import host_path_problem, normalise
from components.domain.model import Tier
from components.plan import gate
from components.policy.rules import evaluate
from components.spec import SpecError, parse_spec
from tests.conftest import Plan
from tests.fleets import FLEET, K8S_MIXED
from tests.harness import rendered, spec_of

REFUSED = [
    "/",
    "//",
    "/./",
    "/srv/..",
    "/srv/../etc",
    "/srv/ci/../../etc/shadow",
    "/etc/",
    "//etc",
    "/etc/./gitlab-runner",
    "/var/run/docker.sock",
    "/srv/ci/docker.sock",
    "/srv/x.sock/sub",
    "/run/containerd/containerd.sock",
    "/proc/1/root",
    "/proc/self/root/etc",
    "/sys/fs/cgroup",
    "/dev/sda",
    "/var/lib/docker",
    "/var/lib/docker/volumes/gitlab-runner-dev-build-1-config/_data",
    "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs",
    "/var",
    "/var/lib",
    "/var/run/",
    "/root/.ssh",
    "/home/ci/.docker",
    "/usr/bin",
    "/boot",
    "relative/cache",
    "~/cache",
    "/srv/ci cache",
    "/srv/a:/etc",
    "/srv/a,b",
    "/srv/$HOME",
    "/srv/*",
    "/srv/\uff45tc",
    "/srv/\x00",
    "/" + "a" * 5000,
    "/var/spool/cron/crontabs",
    "/srv/runner-fleet/lxd/unix.socket",
    "/srv/runner-fleet/agent/ssh-sock",
    "/var/lib/lxd/unix.socket",
    "/opt/cni/bin",
    "/var/lib/cloud/scripts",
    "/var/snap/docker/common/var-lib-docker",
    "/tmp/ci",
    "/var/tmp",
    "/var/log",
    "/lib32",
    "/mnt/nfs/ci",
    "/srv",
    "/var/cache",
    "/data/..",
    "/srv/../var/lib/docker",
    "/srv/gitlab-runner/config",
    "/srv/gitlab/config",
    "/var/cache/debconf",
    "/data/docker/volumes",
    "/srv/ci-cache",
    "/srv/runner-fleet",
    "/srv/runner-fleet/..",
    "/srv/runner-fleet-evil/x",
]
ALLOWED = {
    "/srv/runner-fleet/cache": "/srv/runner-fleet/cache",
    "/srv/runner-fleet/cache/": "/srv/runner-fleet/cache",
    "/srv//runner-fleet//cache": "/srv/runner-fleet/cache",
    "/srv/./runner-fleet/cache": "/srv/runner-fleet/cache",
    "/srv/runner-fleet/old/../cache": "/srv/runner-fleet/cache",
    "/var/cache/runner-fleet/ci": "/var/cache/runner-fleet/ci",
    "/srv/runner-fleet/nfs/ci@2": "/srv/runner-fleet/nfs/ci@2",
}


@pytest.mark.parametrize("path", REFUSED)
def test_every_spelling_of_a_sensitive_path_is_refused(path: str) -> None:
    assert host_path_problem(path) is not None, path


@pytest.mark.parametrize(("path", "normal"), sorted(ALLOWED.items()))
def test_ordinary_directories_are_allowed_and_normalised(path: str, normal: str) -> None:
    assert host_path_problem(path) is None and normalise(path) == normal


def _with_dirs(directories: Any, base: dict[str, Any] = FLEET, runner: str = "unit") -> dict[str, Any]:
    values = copy.deepcopy(base)
    values["runners"][runner]["hostDirectories"] = directories
    return values


def _problems(values: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(values, stack="test")
    return list(caught.value.problems)


def test_a_docker_runner_gets_its_checked_directories_in_config_toml() -> None:
    values = _with_dirs(
        [
            {"hostPath": "/srv//runner-fleet/cache/", "mountPath": "/cache"},
            {"hostPath": "/srv/runner-fleet/tools", "mountPath": "/tools", "readOnly": True},
        ]
    )
    document = tomllib.loads(rendered(spec_of(values), "edge-1"))
    (entry,) = [r for r in document["runners"] if r["name"] == "test-unit"]
    assert entry["docker"]["volumes"] == ["/srv/runner-fleet/cache:/cache", "/srv/runner-fleet/tools:/tools:ro"], (
        "no duplicate /cache"
    )


@pytest.mark.parametrize("path", ["/var/run/docker.sock", "/srv/../etc", "/proc/1/root", "//"])
def test_the_spec_names_the_refused_path(path: str) -> None:
    problems = _problems(_with_dirs([{"hostPath": path, "mountPath": "/cache"}]))
    assert any(p.startswith("runners.unit.hostDirectories[0].hostPath:") for p in problems), problems


@pytest.mark.parametrize(
    ("directories", "key", "message"),
    [
        ("/srv/runner-fleet/ci", "runners.unit.hostDirectories", "expected a list"),
        ([{"hostPath": "/srv/runner-fleet/ci"}], "runners.unit.hostDirectories[0].mountPath", "is required"),
        (
            [{"hostPath": "/srv/runner-fleet/ci", "mountPath": "/"}],
            "runners.unit.hostDirectories[0].mountPath",
            "not over",
        ),
        (
            [{"hostPath": "/srv/runner-fleet/ci", "mountPath": "/proc/x"}],
            "runners.unit.hostDirectories[0].mountPath",
            "/proc",
        ),
        (
            [{"hostPath": "/srv/runner-fleet/ci", "mountPath": "/c", "rw": True}],
            "runners.unit.hostDirectories[0].rw",
            "unknown",
        ),
        (
            [
                {"hostPath": "/srv/runner-fleet/a", "mountPath": "/c"},
                {"hostPath": "/srv/runner-fleet/b", "mountPath": "/c/"},
            ],
            "runners.unit.hostDirectories[1].mountPath",
            "mounted twice",
        ),
    ],
)
def test_broken_entries_are_named(directories: Any, key: str, message: str) -> None:
    problems = _problems(_with_dirs(directories))
    assert any(p.startswith(key) and message in p for p in problems), problems


def test_buildkit_and_kubernetes_runners_get_none() -> None:
    cache = [{"hostPath": "/srv/runner-fleet/ci", "mountPath": "/cache"}]
    problems = _problems(_with_dirs(cache, K8S_MIXED, "docker-images"))
    assert any(p.startswith("runners.docker-images.hostDirectories: a BuildKit runner") for p in problems)
    problems = _problems(_with_dirs(cache, K8S_MIXED, "eu-tests"))
    assert any(p.startswith("runners.eu-tests.hostDirectories: Docker hosts only") for p in problems)


def test_the_policy_accepts_what_the_spec_accepts_and_nothing_else(plan: Plan) -> None:
    values = _with_dirs([{"hostPath": "/srv/runner-fleet/cache", "mountPath": "/cache"}])
    resources = gate.declared(plan(values))
    assert not [v for v in evaluate(resources, Tier.DEVELOPMENT) if v.rule == "no-host-paths-for-jobs"]


def test_unprotected_jobs_never_share_a_directory_with_protected_ones() -> None:
    values = copy.deepcopy(FLEET)
    values["runners"]["unit"]["hostDirectories"] = [{"hostPath": "/srv/runner-fleet/cache", "mountPath": "/cache"}]
    values["runners"]["unit"]["protectedOnly"] = True
    values["runners"]["shared"]["host"] = "edge-1"
    values["runners"]["shared"]["hostDirectories"] = [
        {"hostPath": "/srv/runner-fleet/cache/sub", "mountPath": "/cache"}
    ]
    problems = _problems(values)
    assert any(p.startswith("runners.shared.hostDirectories[0].hostPath: ") and "protected" in p for p in problems)
    values["runners"]["shared"]["protectedOnly"] = True
    # Both protected: one directory may be shared (nested, it would not be: see test_host_directory_containment).
    values["runners"]["shared"]["hostDirectories"][0]["hostPath"] = "/srv/runner-fleet/cache"
    parse_spec(values, stack="test")


def test_not_over_the_shared_checkouts() -> None:
    problems = _problems(_with_dirs([{"hostPath": "/srv/runner-fleet/ci", "mountPath": "/builds/x"}]))
    assert any("runners.unit.hostDirectories[0].mountPath: /builds/x: not over" in p for p in problems)
