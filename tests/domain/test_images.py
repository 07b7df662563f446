"""domain.images: the helper image follows each node's architecture. Oracle: gitlab-runner's own source at the pinned
tag (how the runner names its helper tags, which tags its release publishes as multi-arch indexes), read from the
mirror when it is present; the rules that hold without it run everywhere."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path

import pytest

from components.domain import images, versions
from components.spec import SpecError, parse_spec
from tests.fleets import K8S_MIXED
from tests.harness import rendered, spec_of

RUNNER_GIT = Path("/work/.mirror/gitlabhq+gitlab-runner/repo")
ARCHITECTURES = ("x86_64", "amd64", "arm64", "aarch64", "arm", "armv7", "ppc64le", "s390x", "riscv64", "386")
MIRROR = "registry.corp.test/hub"


def _source(path: str) -> str:
    if not (RUNNER_GIT / "HEAD").is_file():
        pytest.skip(f"no gitlab-runner checkout at {RUNNER_GIT} (CI has none); the facts below are from {path}")
    done = subprocess.run(
        ["git", "--git-dir", str(RUNNER_GIT), "show", f"{versions.RUNNER_VERSION}:{path}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"the checkout has no {versions.RUNNER_VERSION}:{path}")
    return done.stdout


def _tag(image: str) -> str:
    return image.split("@", 1)[0].rsplit(":", 1)[1]


@pytest.mark.parametrize("mirror", [None, MIRROR])
def test_no_helper_image_names_an_architecture(mirror: str | None) -> None:
    runner = versions.RUNNER_IMAGE
    for kubernetes in (False, True):
        helper = images.helper_image(runner, mirror, kubernetes=kubernetes)
        if helper is None:
            assert mirror is None and not kubernetes, "only a Docker host without a mirror leaves it to the runner"
            continue
        assert not set(re.split(r"[-_.]", _tag(helper))) & set(ARCHITECTURES), helper
        assert helper.endswith(f"gitlab-org/gitlab-runner/gitlab-runner-helper:alpine-latest-{versions.RUNNER_VERSION}")
        assert helper.startswith(f"{MIRROR}/") == (mirror is not None)


def test_the_policies_read_the_mirror_from_the_helper_and_none_from_the_upstream_one() -> None:
    assert images.mirror_of_helper(str(images.helper_image(versions.RUNNER_IMAGE, MIRROR))) == MIRROR
    assert images.mirror_of_helper(str(images.helper_image(versions.RUNNER_IMAGE, None, kubernetes=True))) is None


def test_the_kubernetes_executor_would_assume_amd64_without_it() -> None:
    """Why a Kubernetes host gets a helper image even without a mirror: the executor's default architecture."""
    source = _source("executors/kubernetes/kubernetes.go")
    config = source.split("func (s *executor) retrieveHelperImageConfig()", 1)[1].split("\n}\n", 1)[0]
    assert 'Architecture: "amd64"' in config


def test_the_release_publishes_the_tag_as_a_multi_arch_index() -> None:
    """The release job pushes helper images with `pusher -gen-indexes`, which joins the components whose tags differ
    only in architecture into one index; for the runner's default (alpine) helper that index is
    `alpine-latest-<release>`, and its members are the `<arch>-<release>` images the runner picks by itself."""
    release = _source(".gitlab/ci/release.gitlab-ci.yml")
    stable = release.split("\nstable docker images:", 1)[1].split("\n\n", 1)[0]
    assert 'pusher -gen-indexes helper-images.json "${CI_REGISTRY_IMAGE}/gitlab-runner-helper"' in stable
    assert "CI_REGISTRY_IMAGE: registry.gitlab.com/gitlab-org/gitlab-runner" in stable
    manifest = json.loads(_source("scripts/pusher/helper-images.json"))["default"]
    prefix = images.HELPER_INDEX + "-"
    arches = {name.removeprefix(prefix) for name in manifest if name.startswith(prefix) and "pwsh" not in name}
    assert {"x86_64", "arm64", "arm"} <= arches, sorted(arches)
    for arch in arches:
        assert f"{prefix}{arch}-%" in manifest[prefix + arch], "joined into the index `alpine-latest-%`"
        assert f"{arch}-%" in manifest[prefix + arch], "the tag the runner picks on its own (linux_info.go)"
    # pusher's own test of that rule, at the same tag: these components make the index `alpine-latest-%`.
    assert f'Tags: []string{{"{prefix}%"}}' in _source("scripts/pusher/indexes_test.go")
    since = ".".join(map(str, images.HELPER_INDEX_SINCE))
    assert images.release(versions.RUNNER_VERSION) >= images.HELPER_INDEX_SINCE, f"indexes exist from {since}"


def test_a_kubernetes_host_s_config_names_the_multi_arch_helper() -> None:
    text = rendered(spec_of(K8S_MIXED), "eu")
    assert text.count(f'helper_image = "{images.HELPER_REPOSITORY}:alpine-latest-{versions.RUNNER_VERSION}"') == 2
    assert "helper_image" not in rendered(spec_of(K8S_MIXED), "edge-1"), "Docker: the runner picks by the engine"


def test_a_mirror_needs_a_runner_whose_helper_is_multi_arch() -> None:
    values = copy.deepcopy(K8S_MIXED) | {"registryMirror": MIRROR}
    values["hosts"]["edge-1"]["runnerImage"] = f"{MIRROR}/gitlab/gitlab-runner:alpine-v19.1.0"
    with pytest.raises(SpecError) as caught:
        parse_spec(values, stack="test")
    (problem,) = caught.value.problems
    assert problem.startswith(
        "hosts.edge-1.runnerImage: v19.1.0 is older than gitlab-runner 19.2, which registryMirror"
    )
    values["hosts"]["edge-1"]["runnerImage"] = f"{MIRROR}/gitlab/gitlab-runner:alpine-v19.2.0"
    helper = f"{MIRROR}/gitlab-org/gitlab-runner/gitlab-runner-helper:alpine-latest-v19.2.0"
    assert f'helper_image = "{helper}"' in rendered(parse_spec(values, stack="test"), "edge-1")
