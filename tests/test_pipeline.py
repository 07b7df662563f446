"""The project's pipeline and the BuildKit component: GitLab's CI schema, which jobs run for which event (the
`rules:` evaluated by a small evaluator of the expressions they use), deploy timeouts against the stacks' drains."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.domain import lifecycle, versions
from components.plan import report
from tests.conftest import ROOT, Plan

CI_FILES = [ROOT / ".gitlab-ci.yml", *sorted((ROOT / "ci").glob("*.yml"))]
COMPONENT = ROOT / "templates" / "buildkit-build.yml"
PULUMI_UP = re.compile(r"\bpulumi up\b")


def _component(inputs: dict[str, Any] | None = None) -> tuple[dict[str, Any], str]:
    """The component's spec, and its job document with inputs substituted (defaults unless given)."""
    spec_text, body = COMPONENT.read_text().split("\n---\n", 1)
    spec = yaml.safe_load(spec_text)["spec"]["inputs"]
    values = {name: (inputs or {}).get(name, meta.get("default")) for name, meta in spec.items()}

    def substitute(match: re.Match[str]) -> str:
        value = values[match[1]]
        return (
            yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()
            if isinstance(value, list | bool)
            else str(value)
        )

    return spec, re.sub(r"\$\[\[\s*inputs\.(\w+)\s*\]\]", substitute, body)


def test_every_ci_file_and_the_component_validate_against_gitlabs_schema(tmp_path: Path) -> None:
    _, job = _component()
    rendered = tmp_path / "buildkit-build.gitlab-ci.yml"
    rendered.write_text(job)
    files = [*CI_FILES, rendered, *sorted((ROOT / "examples").glob("*.gitlab-ci.yml"))]
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "check-jsonschema"),
            "--builtin-schema",
            "vendor.gitlab-ci",
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# --- which jobs run ------------------------------------------------------------------------------------------


def _pipeline() -> dict[str, Any]:
    """.gitlab-ci.yml with its `include: local` files merged and every job's `extends` resolved."""
    root = yaml.safe_load(CI_FILES[0].read_text())
    merged = {k: v for k, v in root.items() if k != "include"}
    for item in root["include"]:
        merged |= yaml.safe_load((ROOT / item["local"]).read_text())

    def resolve(name: str) -> dict[str, Any]:
        job = dict(merged[name])
        parents = job.pop("extends", [])
        base: dict[str, Any] = {}
        for parent in [parents] if isinstance(parents, str) else parents:
            base |= resolve(parent)
        return base | job

    return {name: resolve(name) for name in merged if isinstance(merged[name], dict)}


TERM = re.compile(r'\s*(\$\w+)\s*(?:(==|!=)\s*("[^"]*"|\$\w+))?\s*')


def _value(token: str, env: dict[str, str]) -> str | None:
    return env.get(token[1:]) if token.startswith("$") else token.strip('"')


def evaluate(expression: str, env: dict[str, str]) -> bool:
    """GitLab's `rules: if` for what this pipeline uses: `$VAR`, `$VAR == "x"`, `!=`, `$A == $B`, `&&`, `||`."""
    return any(all(_term(term, env) for term in part.split("&&")) for part in expression.split("||"))


def _term(term: str, env: dict[str, str]) -> bool:
    match = TERM.fullmatch(term)
    assert match, f"the evaluator does not know {term!r}"
    left = _value(match[1], env)
    if match[2] is None:
        return bool(left)
    right = _value(match[3], env)
    return (left == right) if match[2] == "==" else (left != right)


def _when(rules: list[dict[str, Any]], env: dict[str, str]) -> str:
    for rule in rules:
        if "if" not in rule or evaluate(rule["if"], env):
            return str(rule.get("when", "on_success"))
    return "never"


def jobs_for(env: dict[str, str]) -> dict[str, str]:
    """Job -> when, for a pipeline with these predefined variables ({} when the workflow creates none)."""
    pipeline = _pipeline()
    if _when(pipeline["workflow"]["rules"], env) == "never":
        return {}
    runs = {}
    for name, job in pipeline.items():
        if name.startswith(".") or name in ("workflow", "default", "variables", "stages") or "script" not in job:
            continue
        when = _when(job.get("rules", [{"when": "on_success"}]), env)
        if when != "never":
            runs[name] = when
    return runs


MAIN = {"CI_DEFAULT_BRANCH": "main", "CI_PIPELINE_CREATED_AT": "2027-01-02T00:00:00Z"}
EVENTS: list[tuple[str, dict[str, str], dict[str, str]]] = [
    (
        "merge request from an unprotected branch",
        {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_SOURCE_BRANCH_PROTECTED": "false"},
        {"test": "on_success", "impact": "on_success", "note": "always"},
    ),
    (
        "merge request from a protected branch",
        {
            "CI_PIPELINE_SOURCE": "merge_request_event",
            "CI_MERGE_REQUEST_SOURCE_BRANCH_PROTECTED": "true",
            "CI_MERGE_REQUEST_TARGET_BRANCH_PROTECTED": "true",
            "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": "42",
            "CI_PROJECT_ID": "42",
        },
        {"test": "on_success", "impact": "on_success", "preview": "on_success", "note": "always"},
    ),
    (
        "push to the default branch",
        {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main"},
        {"test": "on_success", "deploy-dev": "on_success", "deploy-prod": "manual"},
    ),
    ("push to another branch", {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "feature"}, {"test": "on_success"}),
    (
        "push to the default branch while a merge request from it is open",
        {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main", "CI_OPEN_MERGE_REQUESTS": "group/p!12"},
        {"test": "on_success", "deploy-dev": "on_success", "deploy-prod": "manual"},
    ),
    (
        "a rotation schedule on another branch",
        {"CI_PIPELINE_SOURCE": "schedule", "CI_COMMIT_BRANCH": "release/1", "RUNNER_FLEET_SCHEDULE": "rotate"},
        {},
    ),
    (
        "a merge request from a fork",
        {
            "CI_PIPELINE_SOURCE": "merge_request_event",
            "CI_MERGE_REQUEST_SOURCE_BRANCH_PROTECTED": "true",
            "CI_MERGE_REQUEST_TARGET_BRANCH_PROTECTED": "true",
            "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": "99",
            "CI_PROJECT_ID": "42",
        },
        {"test": "on_success", "impact": "on_success", "note": "always"},
    ),
    (
        "push to a branch with an open merge request",
        {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "feature", "CI_OPEN_MERGE_REQUESTS": "group/p!1"},
        {},
    ),
    (
        "the default schedule",
        {"CI_PIPELINE_SOURCE": "schedule", "CI_COMMIT_BRANCH": "main"},
        {"drift": "on_success"},
    ),
    (
        "the rotation schedule",
        {"CI_PIPELINE_SOURCE": "schedule", "CI_COMMIT_BRANCH": "main", "RUNNER_FLEET_SCHEDULE": "rotate"},
        {"rotate-dev": "on_success", "rotate-prod": "on_success"},
    ),
]


@pytest.mark.parametrize(("event", "env", "expected"), EVENTS, ids=[e[0] for e in EVENTS])
def test_which_jobs_run(event: str, env: dict[str, str], expected: dict[str, str]) -> None:
    assert jobs_for(MAIN | env) == expected, event


def test_the_evaluator_reads_what_gitlab_reads() -> None:
    env = {"A": "x", "B": "x", "C": ""}
    assert evaluate('$A == "x" && $B', env) and evaluate("$A == $B", env) and not evaluate("$C", env)
    assert evaluate('$C || $A != "y"', env) and not evaluate('$MISSING == "x"', env)


# --- deploys that cannot hurt themselves ---------------------------------------------------------------------


def _seconds(duration: str) -> int:
    units = {"h": 3600, "m": 60, "s": 1}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)\s*([hms])", duration))


def test_every_pulumi_up_job_has_an_environment_a_resource_group_and_a_timeout_covering_its_drains(plan: Plan) -> None:
    pipeline = _pipeline()
    up_jobs = {
        n: j for n, j in pipeline.items() if not n.startswith(".") and PULUMI_UP.search(" ".join(j.get("script", [])))
    }
    assert set(up_jobs) == {"deploy-dev", "deploy-prod", "rotate-dev", "rotate-prod"}
    for name, job in up_jobs.items():
        stack = job["variables"]["STACK"]
        assert job["environment"]["deployment_tier"] == ("production" if stack == "prod" else "development"), name
        assert job["resource_group"] == f"pulumi-{stack}", name
        assert "--refresh" in " ".join(job["script"]), name
        hosts = report.hosts_summary(plan(ROOT / "stacks" / f"Pulumi.{stack}.yaml"))
        longest = max(h["drainSeconds"] for h in hosts.values())
        needed = longest + lifecycle.DELETE_MARGIN_SECONDS + lifecycle.CREATE_UPDATE_SECONDS
        assert _seconds(job["timeout"]) >= needed, (name, job["timeout"], needed)


def test_every_pulumi_command_runs_with_bounded_parallelism() -> None:
    """README "Performance": the CLI's default follows the CI runner's CPUs; every job inherits one fixed value."""
    root = yaml.safe_load(CI_FILES[0].read_text())
    assert 1 <= int(root["variables"]["PULUMI_OPTION_PARALLEL"]) <= 32
    for name, job in _pipeline().items():
        script = " ".join(job.get("script", []))
        if re.search(r"\bpulumi (up|preview|refresh|destroy)\b", script):
            assert "PULUMI_OPTION_PARALLEL" not in job.get("variables", {}), name
            assert not re.search(r"\bpulumi (up|preview|refresh|destroy)\b[^;&|]*( -p |--parallel)", script), name


def test_schedules_never_deploy_and_the_note_job_posts_the_note() -> None:
    pipeline = _pipeline()
    for name in ("drift",):
        assert not PULUMI_UP.search(" ".join(pipeline[name]["script"]))
        assert "--expect-no-changes" in " ".join(pipeline[name]["script"])
    assert "python -m components.ops.mr_note --body-file" in " ".join(pipeline["note"]["script"])
    assert pipeline["variables"]["RUNNER_FLEET_NOW"] == "$CI_PIPELINE_CREATED_AT"
    impact = " ".join(pipeline["impact"]["script"])
    assert impact.count('--now "$RUNNER_FLEET_NOW"') == 2 and "--compare" in impact
    # Branch code runs on an ordinary runner; only jobs that touch the stacks use the protected deploy runner.
    assert pipeline["default"]["tags"] == ["runner-fleet-ci"]
    for name, job in pipeline.items():
        if name.startswith(".") or "script" not in job:
            continue
        touches = "pulumi " in " ".join(job["script"])
        assert (job.get("tags") == ["runner-fleet-deploy"]) == touches, name
        if PULUMI_UP.search(" ".join(job["script"])):
            assert job["variables"]["RUNNER_FLEET_NOW"] == "", f"{name} plans for the wall clock"


# --- the BuildKit component ----------------------------------------------------------------------------------


def test_the_component_has_typed_documented_inputs_and_builds_as_the_fleet_expects() -> None:
    spec, text = _component()
    assert all({"type", "default", "description"} <= set(meta) for meta in spec.values())
    (job,) = yaml.safe_load(text).values()
    assert job["image"] == {"name": versions.BUILDKIT_IMAGE, "entrypoint": [""]}
    script = " ".join(job["script"])
    assert "buildctl-daemonless.sh build" in script
    assert '--export-cache "type=registry,ref=$BK_CACHE:$CI_COMMIT_REF_SLUG,mode=max"' in script
    assert '--import-cache "type=registry,ref=$BK_CACHE:$DEFAULT_SLUG"' in script, "branches read the default cache"
    assert "set -f" in script and "eval" not in " ".join(job["before_script"])
    assert "--secret id=ci_job_token,env=CI_JOB_TOKEN" in script
    assert "build-arg" not in script and "CI_JOB_TOKEN" not in " ".join(job["before_script"])
    assert job["tags"] == ["buildkit"]
    _, tagged = _component({"runner_tags": ["buildkit", "eu"], "attestations": True})
    (job,) = yaml.safe_load(tagged).values()
    assert job["tags"] == ["buildkit", "eu"] and job["variables"]["BK_ATTESTATIONS"] == "true"
