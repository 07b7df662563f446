"""--compare: what a change does, decided by the vendored provider semantics and the engine's rules."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from components.plan import impact
from components.plan.__main__ import main
from tests.fleets import COMPANY, COMPANY_SECRETS, K8S_MIXED, ciphertext, fleet, write_stack

PROD = fleet(protect=True)


def _plan(tmp: Path, name: str, values: dict[str, Any], base: Path | None = None, **extra: Any) -> tuple[int, Path]:
    folder = tmp / name
    folder.mkdir()
    stack = write_stack(folder, values, "test", extra.get("secrets"))
    out = folder / "out"
    args = ["--stack-file", str(stack), "--out", str(out)] + (["--compare", str(base)] if base else [])
    args += ["--now", extra["now"]] if "now" in extra else []
    return main(args), out


def _impact(out: Path) -> dict[str, Any]:
    found: dict[str, Any] = json.loads((out / "impact.json").read_text())
    return found


def test_removing_a_protected_runner_is_reported_blocked_and_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, base = _plan(tmp_path, "base", PROD)
    assert code == 0
    smaller = copy.deepcopy(PROD)
    del smaller["runners"]["unit"]
    code, out = _plan(tmp_path, "new", smaller, base)
    err = capsys.readouterr().err
    assert code == 3
    assert "error: blocked: delete runner-unit: it is protected" in err and "protect: false" in err
    found = _impact(out)
    assert set(found) == {"resources", "hosts", "runners"}
    (step,) = [s for s in found["resources"] if s["name"] == "runner-unit"]
    assert step == {
        "type": "gitlab:index/userRunner:UserRunner",
        "name": "runner-unit",
        "action": "delete",
        "changed": [],
        "forcedBy": [],
        "blocked": step["blocked"],
        "host": None,
    }
    assert step["blocked"]["reason"].startswith("it is protected") and "pulumi up" in step["blocked"]["fix"]
    assert found["runners"]["unit"]["effect"] == "removed"
    assert found["hosts"]["edge-1"]["effect"] == "reload", "its drain (the images runner's 7260 s) is unchanged"
    assert "**blocked**: delete runner-unit" in (out / "impact.md").read_text()


def test_the_documented_order_unprotect_then_remove_is_not_blocked(tmp_path: Path) -> None:
    _, base = _plan(tmp_path, "base", PROD)
    unprotected = dict(copy.deepcopy(PROD), protect=False)
    code, first = _plan(tmp_path, "unprotect", unprotected, base)
    assert code == 0
    assert _impact(first)["resources"] == [], "protect is an option: unprotecting changes no input"
    removed = copy.deepcopy(unprotected)
    del removed["runners"]["release"]
    code, second = _plan(tmp_path, "remove", removed, first)
    assert code == 0
    (step,) = [s for s in _impact(second)["resources"] if s["name"] == "runner-release"]
    assert step["action"] == "delete" and step["blocked"] is None


def test_a_protected_replacement_is_blocked_unless_unprotected_in_the_same_change(tmp_path: Path) -> None:
    _, base = _plan(tmp_path, "base", PROD)
    moved = copy.deepcopy(PROD)
    moved["runners"]["unit"]["scope"] = {"project": 43}
    code, out = _plan(tmp_path, "moved", moved, base)
    assert code == 3
    (step,) = [s for s in _impact(out)["resources"] if s["name"] == "runner-unit"]
    assert step["action"] == "replace" and step["forcedBy"] == ["projectId"] and step["blocked"] is not None
    assert _impact(out)["runners"]["unit"]["effect"] == "new-token"
    code, out = _plan(tmp_path, "moved-unprotected", dict(moved, protect=False), base)
    assert code == 0 and _impact(out)["runners"]["unit"]["effect"] == "new-token"


def test_a_rotated_secret_is_seen_without_being_revealed(tmp_path: Path) -> None:
    _, base = _plan(tmp_path, "base", COMPANY, secrets=COMPANY_SECRETS)
    rotated = dict(COMPANY_SECRETS, **{"runner-fleet:cacheSecretKey": {"secure": ciphertext("CIPHERrotated")}})
    code, out = _plan(tmp_path, "rotated", COMPANY, base, secrets=rotated)
    assert code == 0
    found = _impact(out)
    assert found["hosts"]["build"]["effect"] == "reload" and found["hosts"]["cluster"]["effect"] == "roll"
    text = (out / "plan.json").read_text() + (out / "impact.json").read_text()
    assert "CIPHER" not in text and "mock-secret-value-of" not in text


def test_compare_needs_an_earlier_plan_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = _plan(tmp_path, "new", PROD, tmp_path / "missing")
    assert code == 2
    assert "--compare" in capsys.readouterr().err
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "plan.json").write_text("[1, 2]")
    code, _ = _plan(tmp_path, "again", PROD, tmp_path / "junk")
    assert code == 2


def test_every_type_the_program_declares_has_provider_semantics(tmp_path: Path) -> None:
    _, out = _plan(tmp_path, "company", COMPANY, secrets=COMPANY_SECRETS)
    resources = json.loads((out / "plan.json").read_text())["resources"]
    declared = {r["type"] for r in resources if r["custom"] and not r["type"].startswith("pulumi:providers:")}
    for resource_type in declared:
        assert impact.rules_for(resource_type)["replaceOnChange"], resource_type


SEMANTICS = json.loads((Path(__file__).resolve().parents[2] / "reference" / "provider-semantics.json").read_text())


def test_the_report_reasons_with_the_vendored_semantics() -> None:
    assert Path(__file__).resolve().parents[2] / "reference" / "provider-semantics.json" == impact.SEMANTICS
    assert impact.semantics() == SEMANTICS


@pytest.mark.parametrize(
    "change",
    ["add a runner", "raise a maximumTimeout", "lower a maximumTimeout", "add a long runner", "change limits"],
)
def test_runner_changes_change_no_force_new_input_of_any_manager(tmp_path: Path, change: str) -> None:
    """Read straight from the provider semantics, not through the report: a runner change never replaces a
    Docker manager container (every replaceOnChange input of it stays as it was)."""
    after = copy.deepcopy(PROD)
    runners = after["runners"]
    if change == "add a runner":
        runners["extra"] = {"host": "edge-1", "scope": {"group": "acme"}, "tags": ["extra"]}
    elif change == "raise a maximumTimeout":
        runners["images"]["maximumTimeout"] = 14400
    elif change == "lower a maximumTimeout":
        runners["images"]["maximumTimeout"] = 600
    elif change == "add a long runner":
        runners["long"] = {"host": "edge-2", "scope": {"group": "acme"}, "tags": ["long"], "maximumTimeout": 86400}
    else:
        for runner in runners.values():
            runner["limit"] = 7
    _, base = _plan(tmp_path, "base", dict(PROD, protect=False))
    _, out = _plan(tmp_path, "new", dict(after, protect=False))
    old, new = (json.loads((d / "plan.json").read_text())["resources"] for d in (base, out))
    rules = SEMANTICS["resources"]["docker:index/container:Container"]["replaceOnChange"]
    managers = {r["name"]: r for r in new if r["name"].endswith("-manager") and r["type"].startswith("docker:")}
    assert len(managers) == 3
    for was in (r for r in old if r["name"] in managers):
        now = managers[was["name"]]
        for key in rules:
            assert was["inputs"].get(key) == now["inputs"].get(key), (change, was["name"], key)
            assert was.get("secretDigests", {}).get(key) == now.get("secretDigests", {}).get(key), key
        grace = now["inputs"]["destroyGraceSeconds"]
        delete = now["options"]["customTimeouts"]["delete"]
        assert _seconds(delete) >= grace + 60, "the delete timeout covers the drain"


def _seconds(duration: str) -> int:
    units = {"h": 3600, "m": 60, "s": 1}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([hms])", duration))


def _warnings(capsys: pytest.CaptureFixture[str]) -> list[str]:
    prefix = "warning: running jobs at risk: "
    return [line.removeprefix(prefix) for line in capsys.readouterr().err.splitlines() if line.startswith(prefix)]


def test_removing_a_runner_that_takes_jobs_is_a_warning_pausing_first_is_the_way(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, base = _plan(tmp_path, "base", fleet())
    removed = fleet()
    del removed["runners"]["unit"]
    capsys.readouterr()
    code, out = _plan(tmp_path, "removed", removed, base)
    assert code == 0
    (risk,) = _warnings(capsys)
    assert risk.startswith("runner-unit: the registration is removed while it takes jobs") and "paused: true" in risk
    assert "running jobs at risk" in (out / "impact.md").read_text()
    paused = fleet()
    paused["runners"]["unit"]["paused"] = True
    _, first = _plan(tmp_path, "paused", paused, base)
    capsys.readouterr()
    code, _ = _plan(tmp_path, "then-removed", removed, first)
    assert code == 0 and _warnings(capsys) == []


def test_a_delete_timeout_the_old_state_lacks_is_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, base = _plan(tmp_path, "base", fleet())
    document = json.loads((base / "plan.json").read_text())
    for resource in document["resources"]:
        resource["options"].pop("customTimeouts", None)  # as a stack deployed before the timeouts recorded it
    (base / "plan.json").write_text(json.dumps(document))
    upgraded = fleet()
    upgraded["hosts"]["edge-1"]["runnerImage"] = "gitlab/gitlab-runner:alpine-v19.4.0"
    capsys.readouterr()
    code, out = _plan(tmp_path, "new", upgraded, base)
    assert code == 0 and _impact(out)["hosts"]["edge-1"]["effect"] == "drain"
    (risk,) = _warnings(capsys)
    assert risk.startswith("host-edge-1-manager: its old state gives the delete 1200 s, less than its drain (7260 s)")


def test_a_job_namespace_change_and_a_provider_change_are_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, base = _plan(tmp_path, "base", K8S_MIXED)
    moved = copy.deepcopy(K8S_MIXED)
    moved["hosts"]["eu"]["kubernetes"]["jobNamespace"] = "other-builds"
    moved["hosts"]["us"]["kubernetes"]["context"] = "us-2"
    capsys.readouterr()
    code, _ = _plan(tmp_path, "moved", moved, base)
    risks = _warnings(capsys)
    assert code == 0
    assert any(r.startswith("host-eu-job-namespace: the old job namespace is deleted") for r in risks), risks
    assert any("provider's connection settings change" in r and "us" in r for r in risks), risks


def test_a_scope_move_during_a_retiring_window_keeps_the_retiring_registration(tmp_path: Path) -> None:
    rotating = fleet(tokenRotationDays=2)
    _, base = _plan(tmp_path, "base", rotating, now="2027-01-02T00:10:00Z")
    moved = copy.deepcopy(rotating)
    moved["runners"]["unit"]["scope"] = {"project": 4242}
    code, out = _plan(tmp_path, "moved", moved, base, now="2027-01-02T00:20:00Z")
    steps = {s["name"]: s for s in _impact(out)["resources"] if s["type"].startswith("gitlab:")}
    assert code == 0
    assert steps["runner-unit"]["action"] == "replace", "the current registration moves (new token)"
    assert "runner-unit-b" not in steps, "the retiring one keeps its scope and its running jobs"


def test_the_end_of_a_retiring_window_updates_the_runner(tmp_path: Path) -> None:
    rotating = fleet(tokenRotationDays=2)
    _, base = _plan(tmp_path, "base", rotating, now="2027-01-02T00:10:00Z")
    code, out = _plan(tmp_path, "later", rotating, base, now="2027-01-02T08:00:00Z")
    found = _impact(out)["runners"]
    assert code == 0 and found["unit"]["effect"] == "update" and "runner-unit-b deleted" in found["unit"]["why"]


def test_compare_refuses_another_stack_and_a_malformed_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, base = _plan(tmp_path, "base", fleet())
    stack = write_stack(tmp_path, fleet(), "other")
    code = main(["--stack-file", str(stack), "--out", str(tmp_path / "o1"), "--compare", str(base)])
    assert code == 2 and "plan of stack 'test', not 'other'" in capsys.readouterr().err
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "plan.json").write_text(json.dumps({"resources": [1, 2], "hosts": {}, "stack": "test"}))
    code, _ = _plan(tmp_path, "again", fleet(), tmp_path / "bad")
    assert code == 2 and "not a plan output" in capsys.readouterr().err


def test_removing_maximum_timeout_resets_gitlabs_value_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The provider's maximum_timeout is Optional+Computed with UseStateForUnknown, and its Update sends only the
    inputs the program declares (terraform-provider-gitlab, resource_gitlab_user_runner.go): an input that
    disappears keeps GitLab's old value. So removing the key must still declare a value, the one-hour default that
    the drain assumes, and the report must say that jobs are now held to it."""
    _, base = _plan(tmp_path, "base", fleet())
    unset = fleet()
    del unset["runners"]["images"]["maximumTimeout"]  # was 7200
    capsys.readouterr()
    code, out = _plan(tmp_path, "unset", unset, base)
    declared = {
        r["name"]: r["inputs"].get("maximumTimeout")
        for r in json.loads((out / "plan.json").read_text())["resources"]
        if r["type"] == "gitlab:index/userRunner:UserRunner"
    }
    assert code == 0 and declared["runner-images"] == 3600
    (step,) = [s for s in _impact(out)["resources"] if s["name"] == "runner-images"]
    assert (step["action"], step["changed"]) == ("update", ["maximumTimeout"])
    (risk,) = [r for r in _warnings(capsys) if r.startswith("runner-images:")]
    assert "after 3600 s" in risk and "was: 7200 s" in risk


def test_a_stack_deployed_before_every_runner_declared_maximum_timeout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first pulumi up after the upgrade sets the one-hour limit on runners without maximumTimeout, in place."""
    _, base = _plan(tmp_path, "base", fleet())
    document = json.loads((base / "plan.json").read_text())
    for resource in document["resources"]:
        if resource["type"] == "gitlab:index/userRunner:UserRunner" and resource["inputs"]["maximumTimeout"] == 3600:
            del resource["inputs"]["maximumTimeout"]  # as the program declared them before
    (base / "plan.json").write_text(json.dumps(document))
    capsys.readouterr()
    code, out = _plan(tmp_path, "upgraded", fleet(), base)
    found = _impact(out)
    changed = {s["name"]: (s["action"], s["changed"]) for s in found["resources"]}
    assert code == 0 and changed == {
        n: ("update", ["maximumTimeout"]) for n in ("runner-docs", "runner-shared", "runner-unit")
    }
    assert {k: v["effect"] for k, v in found["hosts"].items() if v["effect"] != "none"} == {}
    risks = _warnings(capsys)
    assert len(risks) == 3 and all("after 3600 s" in r and "no limit of its own" in r for r in risks), risks


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_a_shipped_stack_compared_with_itself_changes_nothing(tmp_path: Path, stack: str) -> None:
    """The second `pulumi up` as the impact report sees it: the same stack file planned again at the same moment
    replaces, updates, reloads and drains nothing (what the real engine stores back is the Docker lane's to prove:
    tests/engine)."""
    source = Path(__file__).resolve().parents[2] / "stacks" / f"Pulumi.{stack}.yaml"
    now = ["--now", "2027-01-02T05:00:00Z"]
    base = tmp_path / "base"
    assert main(["--stack-file", str(source), "--out", str(base), *now]) == 0
    again = tmp_path / "again"
    assert main(["--stack-file", str(source), "--out", str(again), "--compare", str(base), *now]) == 0
    found = _impact(again)
    assert found["resources"] == []
    assert {h["effect"] for h in found["hosts"].values()} == {"none"}
    assert {r["effect"] for r in found["runners"].values()} == {"none"}
    assert "0 to create, 0 to update, 0 to replace, 0 to delete" in (again / "impact.md").read_text()
