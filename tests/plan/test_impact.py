"""--compare: what a change does, decided by the vendored provider semantics and the engine's rules."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from components.plan import impact
from components.plan.__main__ import main
from tests.fleets import COMPANY, COMPANY_SECRETS, fleet, write_stack

PROD = fleet(protect=True)


def _plan(tmp: Path, name: str, values: dict[str, Any], base: Path | None = None, **extra: Any) -> tuple[int, Path]:
    folder = tmp / name
    folder.mkdir()
    stack = write_stack(folder, values, "test", extra.get("secrets"))
    out = folder / "out"
    args = ["--stack-file", str(stack), "--out", str(out)] + (["--compare", str(base)] if base else [])
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
    rotated = dict(COMPANY_SECRETS, **{"runner-fleet:cacheSecretKey": {"secure": "v1:CIPHERrotated"}})
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
