"""Project meta tests: every stack file plans, every emitted file validates, schemas and pins are what we say."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml

from components.plan import report
from components.plan.stack_file import is_ciphertext, read_stack_file
from components.spec.problems import looks_like_credential
from tests.conftest import ROOT, STACKS, Plan
from tests.fleets import ciphertext
from tests.harness import of_type, plan_command, validate_text

SHARED_SCHEMAS = ROOT.parent / "shared" / "schemas"
VENDORED = [
    ("schemas", "*.json", SHARED_SCHEMAS),
    ("reference", "provider-semantics.*", ROOT.parent / "shared" / "reference"),
]


@pytest.mark.parametrize("stack_file", STACKS, ids=[p.name for p in STACKS])
def test_every_stack_file_plans_cleanly(stack_file: Path, plan: Plan) -> None:
    result = plan(stack_file)
    assert result.resources
    urns = {r.urn for r in result.resources}
    (fleet,) = of_type(result, "runner-fleet:fleet:RunnerFleet")
    for res in result.resources:
        if res is not fleet:
            assert res.parent in urns, f"{res.type} {res.name} has no parent in the fleet"
    assert len({(r.type, r.name) for r in result.resources}) == len(result.resources)
    for host, text in report.config_files(result).items():
        assert validate_text(text) == [], host
        assert "glrt-" not in text


@pytest.mark.parametrize("stack_file", STACKS, ids=[p.name for p in STACKS])
def test_stack_files_commit_no_plaintext_secret(stack_file: Path) -> None:
    """Committed `secure:` values (and `encryptionsalt`) are how Pulumi keeps secrets in a stack file; a plain value
    that looks like a credential, or a key that secrets reference set in plain text, is not."""
    document = yaml.safe_load(stack_file.read_text())
    stack = read_stack_file(stack_file)
    plain = {k: v for k, v in stack.config.items() if k not in stack.secret_keys}
    for key, value in plain.items():
        assert not looks_like_credential(value), f"{stack_file.name}: {key} holds a credential in plain text"
    for key, value in (document.get("config") or {}).items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            assert is_ciphertext(str(value["secure"])), f"{key}: a secure value is Pulumi's ciphertext (v1:...)"


def test_a_stack_file_with_committed_ciphertexts_and_an_esc_environment_plans(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.ci.yaml"
    stack.write_text(
        "encryptionsalt: v1:c2FsdA==:v1:Zm9vYmFy\n"
        "environment:\n  - platform/runner-secrets\n"
        "config:\n"
        "  runner-fleet:gitlabUrl: https://gitlab.example.com\n"
        "  runner-fleet:hosts: {h: {docker: {host: 'ssh://ci@h.example.com'}}}\n"
        "  runner-fleet:runners: {r: {host: h, scope: {instance: true}, tags: [t], registryAuth: {secret: regAuth}}}\n"
        f"  gitlab:token:\n    secure: {ciphertext('AAABBBcipher+text')}\n"
    )
    out = tmp_path / "out"
    done = plan_command("--stack-file", str(stack), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "runner-fleet:regAuth: not in the stack file; assumed to come from the ESC environment(s)" in done.stderr
    assert "AAABBBcipher" not in (out / "plan.json").read_text() + done.stdout + done.stderr


def test_prod_is_protected_and_protected_only(plan: Plan) -> None:
    result = plan(ROOT / "stacks" / "Pulumi.prod.yaml")
    runners = of_type(result, "gitlab:index/userRunner:UserRunner")
    assert len(runners) >= 2
    for res in runners:
        assert res.options["protect"] is True
        assert res.display_inputs["accessLevel"] == "ref_protected"
    hosts = {r.name for r in of_type(result, "runner-fleet:docker_host:DockerRunnerHost")}
    assert len(hosts) == 2


def test_dev_example_has_buildkit_and_plain_runners_on_docker(plan: Plan) -> None:
    result = plan(ROOT / "stacks" / "Pulumi.dev.yaml")
    (text,) = [t for h, t in report.config_files(result).items() if h == "build-1"]
    entries = tomllib.loads(text)["runners"]
    assert sorted("security_opt" in e["docker"] for e in entries) == [False, True]


def test_pulumi_yaml_validates_against_pulumis_schema() -> None:
    schema = json.loads((ROOT / "schemas" / "pulumi-project.schema.json").read_text())
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    jsonschema.validators.validator_for(schema)(schema).validate(project)
    assert project["name"] == "runner-fleet" and project["stackConfigDir"] == "stacks"
    assert project["runtime"]["options"]["virtualenv"] == ".venv"


@pytest.mark.parametrize(("folder", "pattern", "shared"), VENDORED, ids=[v[0] for v in VENDORED])
def test_vendored_files_are_the_recorded_ones(folder: str, pattern: str, shared: Path) -> None:
    """<folder>/SHA256SUMS records what was vendored; the team's shared copy, where present, must agree."""
    recorded = dict(
        reversed(line.split("  ", 1)) for line in (ROOT / folder / "SHA256SUMS").read_text().splitlines() if line
    )
    assert set(recorded) == {p.name for p in (ROOT / folder).glob(pattern)}
    for name, digest in recorded.items():
        assert hashlib.sha256((ROOT / folder / name).read_bytes()).hexdigest() == digest, name
        if (shared / name).is_file():
            assert hashlib.sha256((shared / name).read_bytes()).hexdigest() == digest, f"../shared changed {name}"


def test_direct_pins_agree_with_the_lock() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lock = (ROOT / "requirements.txt").read_text() + (ROOT / "requirements-dev.txt").read_text()
    locked = {m[0].lower().replace("_", "-"): m[1] for m in re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", lock, re.M)}
    for pin in project["dependencies"] + project["optional-dependencies"]["dev"]:
        name, version = pin.split("==")
        assert locked.get(name.lower().replace("_", "-")) == version, pin
    for line in lock.splitlines():
        if line and not line.startswith(("#", "-r")):
            assert "==" in line, f"unpinned: {line}"


def test_make_plan_default_output_is_ignored_by_git() -> None:
    ignored = subprocess.run(["git", "check-ignore", "plan/dev/plan.json"], cwd=ROOT, capture_output=True, text=True)
    assert ignored.returncode == 0


def test_buildkit_example_overrides_the_entrypoint_and_uses_build_secrets() -> None:
    job = yaml.safe_load((ROOT / "examples" / "build-image.gitlab-ci.yml").read_text())["build-image"]
    assert job["image"]["entrypoint"] == [""]
    assert job["image"]["name"].startswith("moby/buildkit:") and job["image"]["name"].endswith("-rootless")
    script = " ".join(job["script"])
    assert "buildctl-daemonless.sh build" in script and "--secret id=" in script
    assert "--opt build-arg:CI_JOB_TOKEN" not in script
