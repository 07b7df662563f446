"""components.ops.preview_summary: counts and replaced/deleted resources, never values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.ops import preview_summary

PREVIEW = {
    "changeSummary": {"create": 1, "replace": 1, "same": 20, "update": 2},
    "steps": [
        {
            "op": "replace",
            "urn": "urn:pulumi:prod::runner-fleet::runner-fleet:fleet:RunnerFleet$runner-fleet:docker_host:"
            "DockerRunnerHost$docker:index/container:Container::host-a-manager",
            "newState": {"inputs": {"uploads": [{"content": "token = glrt-SECRET"}]}},
        },
        {"op": "update", "urn": "urn:pulumi:prod::runner-fleet::gitlab:index/userRunner:UserRunner::runner-x"},
    ],
    "diagnostics": [{"severity": "error", "message": "boom glrt-SECRET"}],
}


def test_the_summary_counts_and_names_without_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "preview.json"
    path.write_text(json.dumps(PREVIEW))
    assert preview_summary.main([str(path), "--stack", "prod"]) == 0
    out = capsys.readouterr().out
    assert "1 to create, 2 to update, 1 to replace, 20 unchanged" in out
    assert "- replace: `docker:index/container:Container host-a-manager`" in out
    assert "1 error(s)" in out and "glrt-SECRET" not in out and "boom" not in out


def test_not_a_preview_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "preview.json"
    path.write_text("Previewing update (prod)")
    assert preview_summary.main([str(path), "--stack", "prod"]) == 2
    assert "not the JSON" in capsys.readouterr().err
