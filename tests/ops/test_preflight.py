"""The preflight check before `pulumi up` refuses a state left by a manager that never got healthy.

The export below has the shape `pulumi stack export` writes (apitype DeploymentV3/ResourceV3: `initErrors` on a
resource whose create partly failed, `delete: true` on the replaced one waiting for its end-of-run delete); the
manager containers' inputs are those the offline plan declares for the dev stack.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from components.ops import preflight
from tests.harness import plan_command

ROOT = Path(__file__).resolve().parents[2]


def _export(tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / "plan"
    assert plan_command("--stack-file", "stacks/Pulumi.dev.yaml", "--out", str(out)).returncode == 0
    plan = json.loads((out / "plan.json").read_text())
    resources = [
        {"urn": r["urn"], "custom": True, "type": r["type"], "inputs": r["inputs"], "outputs": r["inputs"]}
        for r in plan["resources"]
        if r.get("custom")
    ]
    return {"version": 3, "deployment": {"manifest": {}, "resources": resources}}


def _manager(export: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in export["deployment"]["resources"] if r["urn"].endswith("::host-build-1-manager"))


def _run(export: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "components.ops.preflight"],
        input=json.dumps(export),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_manager_that_failed_its_start_blocks_the_next_up_with_the_way_out(tmp_path: Path) -> None:
    export = _export(tmp_path)
    assert _run(export).returncode == 0  # a healthy state passes
    # The failed run: the successor kept with initErrors, the old manager waiting for its delete.
    successor = _manager(export)
    old = copy.deepcopy(successor) | {"delete": True}
    old["outputs"] = old["inputs"] = dict(old["inputs"], name="gitlab-runner-dev-build-1-00000000")
    successor["initErrors"] = ["container failed to be in healthy state"]
    export["deployment"]["resources"].append(old)
    done = _run(export)
    assert done.returncode == preflight.BLOCKED, done.stderr
    name = successor["inputs"]["name"]
    assert f"docker rm -f {name}" in done.stderr and "pulumi refresh" in done.stderr
    assert "gitlab-runner-dev-build-1-00000000" not in done.stderr  # only the failed one is named


def test_init_errors_of_other_resources_do_not_block(tmp_path: Path) -> None:
    export = _export(tmp_path)
    writer = next(r for r in export["deployment"]["resources"] if r["urn"].endswith("::host-build-1-config-writer"))
    writer["initErrors"] = ["upload failed"]
    assert _run(export).returncode == 0


def test_an_unreadable_export_is_refused_without_echo() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "components.ops.preflight"],
        input="glrt-secret-looking{",
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "glrt" not in done.stderr + done.stdout
