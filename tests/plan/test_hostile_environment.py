"""The offline plan reads the environment `pulumi up` reads, with the same validation (issue 19, part 8).

- RUNNER_FLEET_NOW, the moment rotation is planned for: the plan reads it when --now is absent; a value `pulumi up`
  would refuse is refused by the plan too (exit 2 naming the variable, never repeating the value).
- PULUMI_CONFIG_<KEY>: the Pulumi SDK reads such a variable instead of the stack file's value of the key it names
  (pulumi/runtime/config.py `get_config`, checked below against the installed SDK), so neither the program nor the
  plan accepts one; the CLI's own PULUMI_CONFIG* variables (passphrase, the config the language host passes) stay.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pulumi.runtime.config as runtime_config
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.domain import rotation
from components.plan import engine
from components.plan.__main__ import main
from components.plan.stack_file import read_stack_file
from components.spec import SpecError
from components.spec import config as spec_config
from tests.fleets import SMALL_STACK_FILE

STACK = SMALL_STACK_FILE.replace(
    "  runner-fleet:hosts:\n", "  runner-fleet:tokenRotationDays: 1\n  runner-fleet:hosts:\n", 1
)


def _plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], *extra: str) -> tuple[int, str]:
    stack_file = tmp_path / "Pulumi.test.yaml"
    stack_file.write_text(STACK)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["--stack-file", str(stack_file), "--out", str(tmp_path / "plan"), *extra])
    assert "Traceback" not in out.getvalue() + err.getvalue()
    return status, err.getvalue()


def _active_slot(tmp_path: Path) -> str:
    registrations = json.loads((tmp_path / "plan" / "plan.json").read_text())["runners"]["unit"]["registrations"]
    return "b" if registrations[0]["name"].endswith("-b") else "a"


# Days since the epoch: 2026-01-01 is day 20454 (even: slot a), 2026-01-02 day 20455 (odd: slot b), by the
# README's rule (period g = whole days since 1970-01-01 UTC; even in slot a). Midday: outside any retiring window.
EVEN_DAY, ODD_DAY = "2026-01-01T12:00:00Z", "2026-01-02T12:00:00Z"


def test_the_epoch_days_used_below_are_what_they_claim() -> None:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert (datetime(2026, 1, 1, tzinfo=UTC) - epoch).days == 20454


@pytest.mark.parametrize(("moment", "slot"), [(EVEN_DAY, "a"), (ODD_DAY, "b")])
def test_the_plan_plans_for_runner_fleet_now_as_pulumi_up_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moment: str, slot: str
) -> None:
    status, _ = _plan(tmp_path, monkeypatch, {rotation.NOW_ENV: moment})
    assert status == 0 and _active_slot(tmp_path) == slot


def test_now_overrides_runner_fleet_now_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    status, stderr = _plan(tmp_path, monkeypatch, {rotation.NOW_ENV: EVEN_DAY}, "--now", ODD_DAY)
    assert status == 0 and _active_slot(tmp_path) == "b"
    assert f"overrides {rotation.NOW_ENV}" in stderr


def test_an_empty_runner_fleet_now_is_the_wall_clock_as_in_the_deploy_jobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, _ = _plan(tmp_path, monkeypatch, {rotation.NOW_ENV: ""})  # ci/deploy.yml sets it so
    assert status == 0


UNPARSABLE = [
    "yesterday",
    "2026-13-01T00:00:00Z",
    "2026-01-01T10:00:00",  # no offset: local time is not a UTC moment
    "2026-01-01T10:00:00+02:00",
    " ",
    "2026-01-01T10:00:00Z\x1b[2J",
    "CANARYglpat-Zx9cV8bN7mQ6wE5rT4yU",
    "1e999",
]


@pytest.mark.parametrize("value", UNPARSABLE)
def test_an_unparsable_runner_fleet_now_is_refused_by_the_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    status, stderr = _plan(tmp_path, monkeypatch, {rotation.NOW_ENV: value}, "--now", EVEN_DAY)
    assert status == 2 and f"{rotation.NOW_ENV} (environment): expected an ISO 8601 UTC moment" in stderr
    assert "CANARY" not in stderr and "\x1b" not in stderr and not (tmp_path / "plan").exists()


@pytest.mark.parametrize("value", UNPARSABLE)
def test_the_program_refuses_the_same_values_under_pulumi_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """The program itself (as `pulumi up` runs it: no --now, no rotation.at) refuses what the plan refuses."""
    monkeypatch.setenv(rotation.NOW_ENV, value)
    (tmp_path / "Pulumi.test.yaml").write_text(STACK)
    stack_file = read_stack_file(tmp_path / "Pulumi.test.yaml")
    with pytest.raises(SpecError) as caught:
        engine.run(stack_file)
    assert any(p.startswith(f"{rotation.NOW_ENV} (environment)") for p in caught.value.problems)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_plan_and_program_judge_every_value_alike(value: str) -> None:
    """One function decides for both; and whatever it refuses, its message never holds the value."""
    environ = {rotation.NOW_ENV: value}
    problems = spec_config.environment_problems(environ)
    try:
        expected = rotation.parse_now(value) if value else None
    except ValueError:
        expected = None
        assert len(problems) == 1 and problems[0].startswith(rotation.NOW_ENV)
        if len(value.strip()) > 3:
            assert value.strip() not in problems[0].removeprefix(rotation.NOW_ENV)
    else:
        assert problems == [] and spec_config.requested_moment(environ) == expected


def test_the_sdk_reads_a_per_key_variable_instead_of_the_stack_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """The oracle for refusing PULUMI_CONFIG_<KEY>: the installed SDK itself, as a real run uses it (the language
    host passes the stack file's config in PULUMI_CONFIG; nothing sets it explicitly)."""
    monkeypatch.setattr(runtime_config, "CONFIG", runtime_config.CONFIG.__class__("config", default={}))
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"runner-fleet:tier": "production"}))
    monkeypatch.setenv(runtime_config.get_config_env_key("runner-fleet:tier"), "development")
    assert runtime_config.get_config("runner-fleet:tier") == "development"


@pytest.mark.parametrize(
    "name",
    [
        "PULUMI_CONFIG_RUNNER_FLEET_TIER",
        "PULUMI_CONFIG_GITLAB_BASEURL",
        "PULUMI_CONFIG_GITLAB_INSECURE",
        "PULUMI_CONFIG_RUNNER_FLEET_HOSTS",
        "PULUMI_CONFIG_X",
    ],
)
@pytest.mark.parametrize("value", ["", "development", "https://evil.test/api/v4/", "\x1b]0;pwn\x07"])
def test_a_per_key_config_variable_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    status, stderr = _plan(tmp_path, monkeypatch, {name: value})
    assert status == 2 and f"{name} (environment)" in stderr and "stack file" in stderr
    assert (value not in stderr) if value else True
    assert not (tmp_path / "plan").exists()


@pytest.mark.parametrize("name", sorted(spec_config.CLI_VARIABLES - {"PULUMI_CONFIG", "PULUMI_CONFIG_SECRET_KEYS"}))
def test_the_clis_own_variables_are_not_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    status, stderr = _plan(tmp_path, monkeypatch, {name: "correct horse battery staple"})
    assert status == 0 and "correct horse" not in stderr


def test_the_program_refuses_a_per_key_variable_under_pulumi_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_CONFIG_RUNNER_FLEET_TIER", "development")
    problems = spec_config.environment_problems(dict(os.environ))
    assert problems and problems[0].startswith("PULUMI_CONFIG_RUNNER_FLEET_TIER (environment)")
