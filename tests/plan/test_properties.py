"""Property-based (hypothesis): generated stack files, valid and broken, through the real program and the plan.

Valid stacks plan with exit 0, pass every mandatory policy, and every file they render validates (config.toml
against gitlab-runner's schema, manifests with kubernetes-validate). A valid stack with one breaking change
exits 2 and names the key that broke. Derandomized, so CI runs the same examples every time; no example
database is written.
"""

from __future__ import annotations

import contextlib
import copy
import io
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.domain.model import Tier
from components.plan import gate, report
from components.plan.__main__ import main
from components.policy.rules import evaluate
from components.render import schema
from tests.conftest import Plan
from tests.fleets import write_stack

HOST_KEYS = ("edge-1", "edge-2", "eu", "us-east", "build")
RUNNER_KEYS = ("images", "tests", "lint", "deploy", "k8s-build", "docs")
TAG_WORDS = ("buildkit", "docker", "linux", "arm64", "eu", "gpu", "lint", "x86")
PATHS = ("acme", "acme/platform", "acme/platform/app", "tools.x", "team_a/svc-1")
SETTINGS = dict(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@st.composite
def hosts(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from(HOST_KEYS), min_size=1, max_size=3, unique=True))
    out: dict[str, Any] = {}
    for i, key in enumerate(keys):
        if draw(st.booleans()):
            host: dict[str, Any] = {"docker": {"host": f"ssh://ci@{key}.acme.test"}}
        else:
            k8s: dict[str, Any] = {"namespace": f"runners-{i}"}
            if draw(st.booleans()):
                k8s["jobNamespace"] = f"jobs-{i}"
            if draw(st.booleans()):
                k8s["metricsFrom"] = ["monitoring"]
            host = {"kubernetes": k8s}
        if draw(st.booleans()):
            host["concurrent"] = draw(st.integers(1, 50))
        out[key] = host
    return out


@st.composite
def stacks(draw: st.DrawFn) -> dict[str, Any]:
    """A valid stack as users write it (without the runner-fleet: prefix)."""
    tier = draw(st.sampled_from([t.value for t in Tier]))
    production = tier == Tier.PRODUCTION.value
    host_map = draw(hosts())
    runners: dict[str, Any] = {}
    for key in draw(st.lists(st.sampled_from(RUNNER_KEYS), min_size=1, max_size=4, unique=True)):
        scope = draw(
            st.one_of(
                st.just({"instance": True}),
                st.builds(lambda p: {"group": p}, st.sampled_from(PATHS)),
                st.builds(lambda n: {"project": n}, st.integers(1, 2**31 - 1)),
            )
        )
        runner: dict[str, Any] = {
            "host": draw(st.sampled_from(sorted(host_map))),
            "scope": scope,
            "tags": draw(st.lists(st.sampled_from(TAG_WORDS), min_size=1, max_size=3, unique=True)),
            "buildkit": draw(st.booleans()),
            "maximumTimeout": draw(st.integers(600, 86400)),
        }
        if draw(st.booleans()):
            runner["limit"] = draw(st.integers(0, 20))
        if production:
            runner["protectedOnly"] = True
        runners[key] = runner
    variables = []
    for i, key in enumerate(draw(st.lists(st.sampled_from(["A", "B_2", "DEPLOY", "RUN"]), max_size=3, unique=True))):
        owner = draw(st.sampled_from([{"group": "acme"}, {"project": "acme/app"}, {"project": 42}]))
        value = draw(st.from_regex(r"[a-z0-9_:.~-]{8,20}", fullmatch=True))  # a setting: no key-like randomness
        masked = draw(st.booleans())
        variables.append(
            {**owner, "key": f"{key}_{i}", "value": value, "masked": masked, "protected": production or masked}
        )
    return {
        "gitlabUrl": "https://gitlab.acme.test",
        "tier": tier,
        "hosts": host_map,
        "runners": runners,
        "variables": variables,
    }


@settings(max_examples=25, **SETTINGS)
@given(values=stacks())
def test_valid_stacks_plan_and_every_rendered_file_validates(plan: Plan, values: dict[str, Any]) -> None:
    result = plan(values)
    tier = Tier(values["tier"])
    assert [str(v) for v in evaluate(gate.declared(result), tier) if v.mandatory] == []
    files = report.config_files(result)
    assert set(files) == set(values["hosts"])
    for text in files.values():
        assert schema.errors(tomllib.loads(text)) == []
    for objects in report.manifests(result).values():
        for obj in objects:
            kubernetes_validate.validate(obj, "1.30.0", strict=True)


BREAKS: list[tuple[str, Any, str]] = [
    # (field of a runner, hostile value, what the problem's key path ends with)
    ("tags", "buildkit", "tags"),
    ("tags", ["a,b"], "tags"),
    ("buildkit", "yes", "buildkit"),
    ("maximumTimeout", 10**12, "maximumTimeout"),
    ("maximumTimeout", "3600", "maximumTimeout"),
    ("maximumTimeout", 599, "maximumTimeout"),
    ("limit", -1, "limit"),
    ("host", "nowhere", "host"),
    ("scope", {}, "scope"),
    ("scope", {"group": "a/../b"}, "scope.group"),
    ("scope", {"project": 0}, "scope.project"),
    ("image", "Alpine:3", "image"),
    ("image", "alpine:" + "1" * 129, "image"),
    ("extraConfig", "[docker]\nprivileged = true\n", "extraConfig"),
    ("extraConfig", "[kubernetes]\nprivileged = true\n", "extraConfig"),
    ("extraConfig", "[docker\n", "extraConfig"),
    ("tagz", ["x"], "tagz"),
]


@settings(max_examples=60, **SETTINGS)
@given(values=stacks(), data=st.data())
def test_a_valid_stack_with_one_break_exits_2_naming_the_key(
    tmp_path_factory: pytest.TempPathFactory, values: dict[str, Any], data: st.DataObject
) -> None:
    broken = copy.deepcopy(values)
    runner = data.draw(st.sampled_from(sorted(broken["runners"])))
    field, value, suffix = data.draw(st.sampled_from(BREAKS))
    broken["runners"][runner][field] = value
    directory = tmp_path_factory.mktemp("broken")
    stack_file = write_stack(directory, broken)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["--stack-file", str(stack_file), "--out", str(Path(directory) / "plan")])
    assert status == 2, err.getvalue()
    lines = err.getvalue().splitlines()
    assert any(line.startswith(f"runners.{runner}.{suffix}") for line in lines), (field, value, lines)
    assert "Traceback" not in err.getvalue() and not (Path(directory) / "plan").exists()


@settings(max_examples=10, **SETTINGS)
@given(values=stacks(), data=st.data())
def test_an_unpinned_job_image_exits_3_naming_the_policy(
    tmp_path_factory: pytest.TempPathFactory, values: dict[str, Any], data: st.DataObject
) -> None:
    runner = data.draw(st.sampled_from(sorted(values["runners"])))
    values = copy.deepcopy(values)
    values["runners"][runner].update(buildkit=False, image=data.draw(st.sampled_from(["alpine", "alpine:latest"])))
    directory = tmp_path_factory.mktemp("unpinned")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["--stack-file", str(write_stack(directory, values)), "--out", str(Path(directory) / "plan")])
    assert status == 3, err.getvalue()
    assert any(line.startswith("error: policy images-pinned:") for line in err.getvalue().splitlines())
    assert (Path(directory) / "plan" / "plan.json").is_file(), "the plan is written, then the gate refuses it"
