"""The BuildKit CI/CD component as application teams use it (issue 21, part 4): every snippet in the README and in
examples/ that includes it names inputs its spec declares, with their types, and a version that the release
procedure publishes; the job it expands to passes GitLab's CI schema, and its script, run by a POSIX shell with
sample CI values, hands buildctl image and cache references that Docker's reference grammar accepts."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.domain import versions
from components.domain.images import image_problem
from components.plan import report
from components.plan.engine import PlanResult
from tests.conftest import ROOT, Plan
from tests.fleets import COMPANY, COMPANY_SECRETS, MIRROR
from tests.test_pipeline import COMPONENT, _component, jobs_for

COMPONENT_NAME = COMPONENT.stem  # templates/<name>.yml is published as <name> (GitLab's component layout)
INCLUDE = re.compile(r"^\$CI_SERVER_FQDN/(?P<project>[\w./-]+)/(?P<name>[\w-]+)@(?P<version>\S+)$")
SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
FENCED_YAML = re.compile(r"^```yaml\n(.*?)^```", re.M | re.S)

# Predefined variables as GitLab sets them (docs: ci/variables/predefined_variables), for two registries: GitLab.com's
# and a self-managed one on its own port (the ':' of a port is not a tag).
SAMPLE_CI = [
    {
        "CI_REGISTRY": "registry.gitlab.com",
        "CI_REGISTRY_IMAGE": "registry.gitlab.com/acme/platform/app",
        "CI_COMMIT_REF_SLUG": "feature-login",
        "CI_DEFAULT_BRANCH": "main",
    },
    {
        "CI_REGISTRY": "gitlab.example.com:5050",
        "CI_REGISTRY_IMAGE": "gitlab.example.com:5050/platform/app",
        "CI_COMMIT_REF_SLUG": "1-fix-cache",
        "CI_DEFAULT_BRANCH": "Release/2.x",  # a default branch that is no valid tag as it is
    },
]
COMMON_CI = {
    "CI_COMMIT_SHORT_SHA": "1a2b3c4d",
    "CI_COMMIT_SHA": "1a2b3c4d" * 5,
    "CI_REGISTRY_USER": "gitlab-ci-token",
    "CI_REGISTRY_PASSWORD": "sample-registry-password",
    "CI_JOB_TOKEN": "sample-job-token",
}


def _snippets() -> list[tuple[str, dict[str, Any]]]:
    """(where, include item) for every `include: component:` of this component in the README and examples/."""
    documents = [
        (f"README.md yaml block {i + 1}", block)
        for i, block in enumerate(FENCED_YAML.findall((ROOT / "README.md").read_text()))
    ]
    documents += [(str(p.relative_to(ROOT)), p.read_text()) for p in sorted((ROOT / "examples").glob("*.yml"))]
    found = []
    for where, text in documents:
        document = yaml.safe_load(text)
        includes = document.get("include", []) if isinstance(document, dict) else []
        for item in includes if isinstance(includes, list) else [includes]:
            if isinstance(item, dict) and f"/{COMPONENT_NAME}@" in str(item.get("component", "")):
                found.append((where, item))
    return found


SNIPPETS = _snippets()


def test_the_readme_and_the_examples_use_the_component() -> None:
    places = {where.split(" yaml block")[0] for where, _ in SNIPPETS}
    assert "README.md" in places and any(p.startswith("examples/") for p in places), places


@pytest.mark.parametrize(("where", "item"), SNIPPETS, ids=[w for w, _ in SNIPPETS])
def test_a_snippet_names_inputs_the_spec_declares_and_a_published_version(where: str, item: dict[str, Any]) -> None:
    spec, _ = _component()
    match = INCLUDE.fullmatch(item["component"])
    assert match, f"{where}: {item['component']} is not $CI_SERVER_FQDN/<project>/{COMPONENT_NAME}@<version>"
    assert match["version"] == VERSION, f"{where}: @{match['version']} is not the version a release publishes"
    inputs = item.get("inputs", {})
    assert set(inputs) <= set(spec), f"{where}: inputs the component does not declare: {set(inputs) - set(spec)}"
    types = {"string": str, "array": list, "boolean": bool, "number": int | float}
    for name, value in inputs.items():
        assert isinstance(value, types[spec[name]["type"]]), f"{where}: {name} is not a {spec[name]['type']}"


def _expand(value: str, env: dict[str, str]) -> str:
    """GitLab's expansion of `$NAME` and `${NAME}` in a job's `variables:` values (unknown names expand to '')."""
    return re.sub(r"\$(?:\{(\w+)\}|(\w+))", lambda m: env.get(m[1] or m[2], ""), value)


def run_job(
    job: dict[str, Any], ci: dict[str, str], tmp_path: Path
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """The job's before_script and script, run by `sh -e` (as gitlab-runner runs a job's script) with the job's
    variables expanded from the sample CI values, and `buildctl-daemonless.sh` replaced by a stand-in that records
    its arguments. Returns the shell's result and buildctl's arguments."""
    bin_dir, home = tmp_path / "bin", tmp_path / "home"
    bin_dir.mkdir(exist_ok=True)
    home.mkdir(exist_ok=True)
    record = tmp_path / "buildctl.args"
    stand_in = bin_dir / "buildctl-daemonless.sh"
    stand_in.write_text(f'#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done > "{record}"\n')
    stand_in.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(home)} | ci
    env |= {k: _expand(str(v), env) for k, v in job.get("variables", {}).items()}
    script = "\n".join([*job.get("before_script", []), *job["script"]])
    done = subprocess.run(["sh", "-e", "-c", script], env=env, capture_output=True, text=True, timeout=30)
    return done, record.read_text().splitlines() if record.exists() else []


def _references(args: list[str]) -> dict[str, list[str]]:
    """The image and cache references buildctl receives: `ref=` of each cache option, `name=` of the output."""
    found: dict[str, list[str]] = {"--import-cache": [], "--export-cache": [], "--output": []}
    for option, value in itertools.pairwise(args):
        if option in found:
            fields = dict(f.split("=", 1) for f in value.split(","))
            found[option].append(fields.get("ref") or fields["name"])
    return found


def _slug(ref: str) -> str:
    """CI_COMMIT_REF_SLUG as GitLab documents it: lower case, shortened to 63 bytes, everything but 0-9 and a-z
    replaced with '-', no leading or trailing '-'."""
    return re.sub(r"[^a-z0-9]", "-", ref.lower())[:63].strip("-")


@pytest.mark.parametrize("ci", SAMPLE_CI, ids=["gitlab.com", "self-managed-port"])
@pytest.mark.parametrize(("where", "item"), SNIPPETS, ids=[w for w, _ in SNIPPETS])
def test_a_snippet_expands_to_a_job_whose_references_docker_accepts(
    where: str, item: dict[str, Any], ci: dict[str, str], tmp_path: Path
) -> None:
    _, text = _component(item.get("inputs", {}))
    (job,) = yaml.safe_load(text).values()
    done, args = run_job(job, COMMON_CI | ci, tmp_path)
    assert done.returncode == 0, f"{where}: {done.stderr}"
    references = _references(args)
    assert all(references.values()), references
    for option, refs in references.items():
        for ref in refs:
            assert image_problem(ref) is None, f"{where}: {option} {ref}: {image_problem(ref)}"
            assert ":" in ref.rsplit("/", 1)[-1], f"{where}: {ref} has no tag of its own"
    # A branch exports to its own tag and reads the default branch's, which is what a default-branch pipeline exports.
    (export,) = references["--export-cache"]
    cache = export.rsplit(":", 1)[0]
    assert export == f"{cache}:{ci['CI_COMMIT_REF_SLUG']}"
    assert f"{cache}:{_slug(ci['CI_DEFAULT_BRANCH'])}" in references["--import-cache"]
    # The registry credentials reach buildctl's config file, never its arguments.
    assert COMMON_CI["CI_REGISTRY_PASSWORD"] not in "\n".join(args)
    assert ci["CI_REGISTRY"] in (tmp_path / "home" / ".docker" / "config.json").read_text()


def test_a_cache_with_a_tag_of_its_own_fails_before_the_build_naming_the_input(tmp_path: Path) -> None:
    """The snippet the README used to show: the job appends its own tag, so the build would push to no valid
    reference; the job says so at once."""
    _, text = _component({"cache": "$CI_REGISTRY_IMAGE/buildcache:buildkit"})
    (job,) = yaml.safe_load(text).values()
    done, args = run_job(job, COMMON_CI | SAMPLE_CI[1], tmp_path)
    assert done.returncode != 0 and args == []
    assert "cache: expected a repository without tag or digest" in done.stderr


@pytest.mark.parametrize(("where", "item"), SNIPPETS, ids=[w for w, _ in SNIPPETS])
def test_a_snippet_and_its_job_validate_against_gitlabs_ci_schema(
    where: str, item: dict[str, Any], tmp_path: Path
) -> None:
    _, text = _component(item.get("inputs", {}))
    (tmp_path / "include.yml").write_text(yaml.safe_dump({"include": [item]}))
    (tmp_path / "job.yml").write_text(text)
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "check-jsonschema"),
            "--builtin-schema",
            "vendor.gitlab-ci",
            str(tmp_path / "include.yml"),
            str(tmp_path / "job.yml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"{where}: {done.stdout}{done.stderr}"


def test_the_written_out_example_job_hands_buildctl_valid_references(tmp_path: Path) -> None:
    job = yaml.safe_load((ROOT / "examples" / "build-image.gitlab-ci.yml").read_text())["build-image"]
    done, args = run_job(job, COMMON_CI | SAMPLE_CI[1], tmp_path)
    assert done.returncode == 0, done.stderr
    refs = [r for found in _references(args).values() for r in found]
    assert refs and all(image_problem(r) is None for r in refs), refs


# --- the image, with and without a registry mirror ------------------------------------------------------------------


def allowed(pattern: str, image: str) -> bool:
    """gitlab-runner's test of a job image against one allowed_images entry: `doublestar.Match(allowed, image)`
    (gitlab-runner common/allowed_images.go, VerifyAllowedImage, at d79f3e7b); doublestar's `*` matches within one
    `/`-separated segment, `**` across them, `?` one character other than `/`."""
    parts = re.split(r"(\*\*|\*|\?)", pattern)
    wildcards = {"**": ".*", "*": "[^/]*", "?": "[^/]"}
    return re.fullmatch("".join(wildcards.get(p, re.escape(p)) for p in parts), image) is not None


def test_the_image_input_defaults_to_the_fleets_pinned_buildkit_image() -> None:
    spec, _ = _component()
    assert spec["image"]["type"] == "string" and spec["image"]["default"] == versions.BUILDKIT_IMAGE


def test_every_buildkit_image_the_readme_names_is_the_pinned_version() -> None:
    named = re.findall(r"moby/buildkit:(v[\w.]+)-rootless", (ROOT / "README.md").read_text())
    assert named and set(named) == {versions.BUILDKIT_VERSION}, named


def _buildkit_allowed_images(result: PlanResult) -> dict[str, list[str]]:
    """allowed_images of every BuildKit runner in the rendered config.toml files, by runner name."""
    found = {}
    for text in report.config_files(result).values():
        for entry in tomllib.loads(text)["runners"]:
            section = entry.get("docker") or entry.get("kubernetes") or {}
            if "BUILDKITD_FLAGS=--oci-worker-no-process-sandbox" in entry.get("environment", []):
                found[entry["name"]] = section["allowed_images"]
    return found


def test_behind_a_registry_mirror_the_job_image_is_one_the_buildkit_runners_admit(plan: Plan) -> None:
    """A fleet with registryMirror (tests/fleets.py COMPANY) admits only the mirror's rootless BuildKit images: the
    component's default image would be refused, the mirror's image passed as `image` is admitted on every BuildKit
    runner, Docker and Kubernetes alike."""
    runners = _buildkit_allowed_images(plan(COMPANY, extra=COMPANY_SECRETS))
    assert set(runners) == {"test-images", "test-k8s-images"}
    mirrored = f"{MIRROR}/moby/buildkit:{versions.BUILDKIT_VERSION}-rootless"
    spec, text = _component({"image": mirrored})
    (job,) = yaml.safe_load(text).values()
    assert job["image"] == {"name": mirrored, "entrypoint": [""]}
    assert re.fullmatch(spec["image"]["regex"], mirrored)
    (default_job,) = yaml.safe_load(_component()[1]).values()
    for runner, patterns in runners.items():
        assert any(allowed(p, job["image"]["name"]) for p in patterns), (runner, patterns)
        assert not any(allowed(p, default_job["image"]["name"]) for p in patterns), (runner, patterns)


def test_without_a_mirror_the_default_image_is_admitted_and_the_input_takes_only_rootless_buildkit(
    plan: Plan,
) -> None:
    runners = _buildkit_allowed_images(
        plan({k: v for k, v in COMPANY.items() if k != "registryMirror"}, extra=COMPANY_SECRETS)
    )
    spec, text = _component()
    (job,) = yaml.safe_load(text).values()
    for runner, patterns in runners.items():
        assert any(allowed(p, job["image"]["name"]) for p in patterns), (runner, patterns)
    regex = spec["image"]["regex"]
    for image in (
        versions.BUILDKIT_IMAGE,
        f"docker.io/{versions.BUILDKIT_IMAGE}",
        "localhost:5000/m/" + versions.BUILDKIT_IMAGE,
    ):
        assert re.fullmatch(regex, image), image
    for image in ("alpine:3.22", "moby/buildkit:v0.32.2", "evil.example/buildkit:rootless", "moby/buildkit:latest"):
        assert not re.fullmatch(regex, image), image


# --- the release procedure -----------------------------------------------------------------------------------------


def test_the_project_version_is_a_semantic_version_the_catalog_accepts() -> None:
    assert SEMVER.fullmatch(VERSION), f"pyproject.toml version {VERSION!r} is not MAJOR.MINOR.PATCH"


def test_a_version_tag_runs_the_tests_and_the_release_and_nothing_that_deploys() -> None:
    tag = {"CI_DEFAULT_BRANCH": "main", "CI_PIPELINE_SOURCE": "push", "CI_COMMIT_TAG": VERSION}
    assert jobs_for(tag) == {"test": "on_success", "release": "on_success"}


def _release_job() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "ci" / "release.yml").read_text())["release"]


def test_the_release_job_releases_the_pushed_tag_after_the_tests() -> None:
    job = _release_job()
    assert job["release"]["tag_name"] == "$CI_COMMIT_TAG"
    stages = yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text())["stages"]
    assert stages.index(job["stage"]) > stages.index("test")


@pytest.mark.parametrize(("tag", "published"), [(VERSION, True), (f"v{VERSION}", False), ("9.9.9", False)])
def test_the_release_job_publishes_only_the_projects_version(tag: str, published: bool, tmp_path: Path) -> None:
    """Its script, run in a copy of the project: a tag that is not pyproject.toml's version fails the job, and the
    `release` keyword (which GitLab runs after the script) never publishes it."""
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    script = "\n".join(_release_job()["script"])
    done = subprocess.run(
        ["sh", "-e", "-c", script],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "CI_COMMIT_TAG": tag},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (done.returncode == 0) == published, done.stderr
