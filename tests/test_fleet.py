"""fleet: the whole program (RunnerFleet) per stack under the mock engine."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from pulumi.runtime.mocks import MockMonitor

from components.domain import lifecycle
from components.plan import engine, report
from components.plan.engine import reveal
from components.plan.stack_file import read_stack_file
from components.spec import SpecError
from tests.conftest import Plan
from tests.fleets import ciphertext, fleet, write_stack
from tests.harness import of_type, validate_text

USER_RUNNER = "gitlab:index/userRunner:UserRunner"


CONTAINER = "docker:index/container:Container"


def test_registrations_match_the_stack(plan: Plan) -> None:
    result = plan(fleet())
    runners = {r.name: r.display_inputs for r in of_type(result, USER_RUNNER)}
    assert set(runners) == {f"runner-{k}" for k in ("docs", "images", "release", "shared", "unit")}
    lookups = {(i["token"].split("/")[-1], json.dumps(i["args"], sort_keys=True)) for i in result.invokes}
    assert lookups == {
        ("getGroup:getGroup", '{"fullPath": "acme/platform"}'),
        ("getProject:getProject", '{"pathWithNamespace": "acme/platform/release"}'),
    }
    (group_lookup,) = [r for r in result.invokes if r["token"].endswith("getGroup:getGroup")]
    assert group_lookup["args"] == {"fullPath": "acme/platform"}
    images = runners["runner-images"]
    assert images["runnerType"] == "group_type" and isinstance(images["groupId"], int)
    assert images["tagLists"] == ["buildkit", "images"] and images["untagged"] is False
    assert images["maximumTimeout"] == 7200 and images["accessLevel"] == "not_protected"
    assert images["description"] == "runner-fleet test/images"
    assert runners["runner-unit"]["runnerType"] == "project_type" and runners["runner-unit"]["projectId"] == 42
    assert runners["runner-docs"]["groupId"] == 7
    shared = runners["runner-shared"]
    assert shared["runnerType"] == "instance_type" and "groupId" not in shared and "projectId" not in shared
    assert shared["untagged"] is True
    release = runners["runner-release"]
    assert release["accessLevel"] == "ref_protected" and release["locked"] is True and release["paused"] is True
    assert release["runnerType"] == "project_type" and isinstance(release["projectId"], int)
    for res in of_type(result, USER_RUNNER):
        assert res.options["provider"] == "gitlab"
        assert "token" in res.options["additionalSecretOutputs"]


def test_one_draining_manager_per_host(plan: Plan) -> None:
    result = plan(fleet())
    resources = {r.name: r for r in of_type(result, CONTAINER) if r.name.endswith("-manager")}
    managers = {name: r.display_inputs for name, r in resources.items()}
    assert set(managers) == {"host-edge-1-manager", "host-edge-2-manager", "host-edge-3-manager"}
    expected_grace = {"edge-1": 7260, "edge-2": 3660, "edge-3": 1260}
    for host, grace in expected_grace.items():
        manager = managers[f"host-{host}-manager"]
        generation = {x["label"]: x["value"] for x in manager["labels"]}["runner-fleet.io/generation"]
        assert manager["name"] == f"gitlab-runner-test-{host}-{generation}"
        assert manager["stopSignal"] == "SIGQUIT"
        # The drain waits on destroyGraceSeconds (in place) under a delete timeout that covers it; the stop
        # timeout (which forces a replacement) is a constant.
        assert manager["destroyGraceSeconds"] == grace and manager["stopTimeout"] == 3660
        timeouts = resources[f"host-{host}-manager"].options["customTimeouts"]
        assert timeouts == {"create": "10m", "update": "10m", "delete": lifecycle.duration(grace + 300)}
        assert manager["privileged"] is False
        assert manager["securityOpts"] == ["no-new-privileges=true"]
        assert manager["mounts"] == [
            {"source": "/var/run/docker.sock", "target": "/var/run/docker.sock", "type": "bind"}
        ]
        # Bounded logs by the driver itself: declared options would meet the engine's merged defaults.
        assert manager["logDriver"] == "local" and "logOpts" not in manager
        assert manager["restart"] == "unless-stopped"
        assert "uploads" not in manager, "config reaches the manager through the volume, not an upload"


def test_config_files_are_the_rendered_ones_and_stay_secret(plan: Plan) -> None:
    result = plan(fleet())
    files = report.config_files(result)
    assert set(files) == {"edge-1", "edge-2", "edge-3"}
    for host, text in files.items():
        assert validate_text(text) == [], host
        assert "glrt-" not in text
    doc = tomllib.loads(files["edge-1"])
    assert [r["token"] for r in doc["runners"]] == ["[secret]", "[secret]"]
    writers = [r for r in of_type(result, CONTAINER) if r.name.endswith("-config-writer")]
    for writer in writers:
        assert writer.display_inputs["uploads"] == "[secret]"
        upload, identity = reveal(writer.inputs)["uploads"]
        assert upload["permissions"] == "0600" and upload["file"] == "/etc/gitlab-runner/config.toml"
        assert identity["file"] == "/etc/gitlab-runner/.runner_system_id" and identity["permissions"] == "0600"
        assert "glrt-mock-" in upload["content"], "the real token reaches the file on the host"


def test_buildkit_relaxation_only_on_buildkit_runners(plan: Plan) -> None:
    files = report.config_files(plan(fleet()))
    relaxed = {
        entry["name"]
        for text in files.values()
        for entry in tomllib.loads(text)["runners"]
        if "security_opt" in entry.get("docker", {})
    }
    assert relaxed == {"test-images", "test-docs"}


def test_no_token_in_any_output(tmp_path: Path, plan: Plan) -> None:
    result = plan(fleet())
    assert result.tokens, "the mock issued tokens"
    report.write(result, tmp_path / "out")
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file():
            assert "glrt-" not in path.read_text(), path
    assert "glrt-" not in json.dumps(result.outputs)


def test_prod_protects_registrations(plan: Plan) -> None:
    result = plan(fleet(protect=True, variables=[{"group": "acme", "key": "K", "value": "v"}]))
    for res in of_type(result, USER_RUNNER) + of_type(result, "gitlab:index/groupVariable:GroupVariable"):
        assert res.options["protect"] is True, res.name
    for res in of_type(result, CONTAINER):
        assert res.options["protect"] is False


def test_reordered_stack_plans_identically(tmp_path: Path, plan: Plan) -> None:
    values = fleet()
    reordered = {k: values[k] for k in reversed(list(values))}
    reordered["hosts"] = {k: dict(reversed(list(v.items()))) for k, v in reversed(list(values["hosts"].items()))}
    reordered["runners"] = {k: dict(reversed(list(v.items()))) for k, v in reversed(list(values["runners"].items()))}
    outputs = []
    for name, data in (("a", values), ("b", reordered)):
        out = tmp_path / name
        report.write(plan(data), out)
        outputs.append({p.relative_to(out): p.read_text() for p in sorted(out.rglob("*")) if p.is_file()})
    assert outputs[0] == outputs[1]


def test_secret_variables_and_tls_stay_secret(plan: Plan) -> None:
    values = fleet(variables=[{"project": "acme/app", "key": "DEPLOY_TOKEN", "secret": "deployToken", "masked": True}])
    values["hosts"]["edge-2"]["docker"] = {
        "host": "tcp://edge-2.acme.test:2376",
        "tls": {"ca": "edgeCa", "cert": "edgeCert", "key": "edgeKey"},
    }
    # One ciphertext each: a copied ciphertext is one value in two roles, refused (issue 19, part 1).
    extra = {f"runner-fleet:{k}": {"secure": ciphertext(k)} for k in ("deployToken", "edgeCa", "edgeCert", "edgeKey")}
    result = plan(values, extra=extra)
    (var,) = of_type(result, "gitlab:index/projectVariable:ProjectVariable")
    assert var.display_inputs["value"] == "[secret]" and var.display_inputs["masked"] is True
    (provider,) = [r for r in of_type(result, "pulumi:providers:docker") if r.name == "docker-edge-2"]
    for key in ("caMaterial", "certMaterial", "keyMaterial"):
        assert provider.display_inputs[key] == "[secret]"
    assert provider.display_inputs["host"] == "tcp://edge-2.acme.test:2376"


def test_an_invalid_stack_declares_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registered: list[str] = []
    original = MockMonitor.RegisterResource

    def spy(self: MockMonitor, request: Any) -> Any:
        registered.append(request.type)
        return original(self, request)

    monkeypatch.setattr(MockMonitor, "RegisterResource", spy)
    with pytest.raises(SpecError, match="gitlabUrl"):
        engine.run(read_stack_file(write_stack(tmp_path, fleet(gitlabUrl="nope"))))
    assert [t for t in registered if t != "pulumi:pulumi:Stack"] == []
    engine.run(read_stack_file(write_stack(tmp_path, fleet())))
    assert "gitlab:index/userRunner:UserRunner" in registered, "the same spy sees a valid stack's resources"
