"""A fleet inside a company network, planned end to end: private CA, registry mirror, proxies, a distributed cache
and registry credentials from secret config keys. What a platform team checks before `pulumi up`."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from components.domain import site, versions
from components.plan import engine, report
from components.plan.engine import PlanResult
from components.plan.stack_file import SECRET_PLACEHOLDER
from components.render.schema import errors
from tests.conftest import ROOT, Plan
from tests.fleets import COMPANY, COMPANY_SECRETS, GITLAB_CA, MIRROR, ciphertext, write_stack
from tests.harness import of_type, plan_command

HELPER = f"{MIRROR}/gitlab-org/gitlab-runner/gitlab-runner-helper:alpine-latest-{versions.RUNNER_VERSION}"
MANAGER_IMAGE = f"{MIRROR}/gitlab/gitlab-runner:alpine-{versions.RUNNER_VERSION}"
PROXY = "http://proxy.corp.test:3128"


@pytest.fixture(scope="module")
def company(plan: Plan) -> PlanResult:
    return plan(COMPANY, extra=COMPANY_SECRETS)


def _configs(result: PlanResult) -> dict[str, dict[str, Any]]:
    files = report.config_files(result)
    assert set(files) == {"build", "cluster"}
    return {host: tomllib.loads(text) for host, text in files.items()}


def _entries(result: PlanResult) -> dict[str, dict[str, Any]]:
    return {e["name"].removeprefix("test-"): e for config in _configs(result).values() for e in config["runners"]}


def test_the_plan_command_plans_it_and_no_secret_reaches_a_file(tmp_path: Path) -> None:
    stack = write_stack(tmp_path, COMPANY, "company", COMPANY_SECRETS)
    out = tmp_path / "plan"
    done = plan_command("--stack-file", str(stack), "--out", str(out))
    assert done.returncode == 0, done.stderr
    written = [done.stdout, done.stderr] + [p.read_text() for p in out.rglob("*") if p.is_file()]
    assert len(written) >= 6  # plan.json, imports.sh, two config.toml, manifests.yaml
    for key, value in COMPANY_SECRETS.items():
        placeholder = SECRET_PLACEHOLDER.format(key=key, version="")  # any version of it
        for text in written:
            assert value["secure"] not in text and placeholder not in text and "CIPHER" not in text, key
    config = (out / "hosts" / "build" / "config.toml").read_text()
    assert 'AccessKey = "[secret]"' in config and "DOCKER_AUTH_CONFIG=[secret]" in config


def test_config_toml_validates_and_carries_cache_ca_mirror_and_proxy(company: PlanResult) -> None:
    for host, text in report.config_files(company).items():
        assert errors(tomllib.loads(text)) == [], host
    entries = _entries(company)
    for name, entry in entries.items():
        section = entry.get("docker") or entry["kubernetes"]
        assert section["helper_image"] == HELPER, name
        assert re.fullmatch(r"/.*/certs/ca(-[0-9a-f]{16})?\.crt", entry["tls-ca-file"]), name
        assert entry["cache"]["Type"] == "s3" and entry["cache"]["s3"]["AccessKey"] == "[secret]", name
        assert section["image"].startswith(f"{MIRROR}/"), name
    assert entries["images"]["docker"]["allowed_images"] == [f"{MIRROR}/moby/buildkit:*rootless"]
    assert entries["k8s-images"]["kubernetes"]["allowed_images"] == [f"{MIRROR}/moby/buildkit:*rootless"]
    assert entries["tests"]["docker"]["image"] == f"{MIRROR}/library/alpine:3.22"
    env = entries["tests"]["environment"]
    assert f"HTTPS_PROXY={PROXY}" in env and f"http_proxy={PROXY}" in env
    assert "NO_PROXY=.corp.test,10.0.0.0/8,localhost,127.0.0.1" in env
    assert "DOCKER_AUTH_CONFIG=[secret]" in env
    assert not [e for e in entries["internal"].get("environment", []) if "PROXY" in e.upper()], "it opted out"
    assert [e for e in entries["k8s-images"]["environment"] if e.startswith("HTTPS_PROXY=")]


def test_the_managers_come_from_the_mirror_and_use_the_proxy(company: PlanResult) -> None:
    (image,) = of_type(company, "docker:index/remoteImage:RemoteImage")
    assert image.inputs["name"] == MANAGER_IMAGE
    (deployment,) = of_type(company, "kubernetes:apps/v1:Deployment")
    (container,) = deployment.inputs["spec"]["template"]["spec"]["containers"]
    assert container["image"] == MANAGER_IMAGE
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["HTTPS_PROXY"] == PROXY and "HTTP_PROXY" not in env
    # The manager reaches the API server by its service IP, which the kubelet expands here: never via the proxy.
    assert env["NO_PROXY"].split(",") == [
        ".corp.test",
        "$(KUBERNETES_SERVICE_HOST)",
        ".svc",
        ".cluster.local",
        "localhost",
        "127.0.0.1",
    ]
    manager = next(c for c in of_type(company, "docker:index/container:Container") if c.name.endswith("-manager"))
    assert f"HTTPS_PROXY={PROXY}" in manager.inputs["envs"]


def test_the_ca_is_delivered_with_the_config_and_never_from_a_host_path(company: PlanResult) -> None:
    writer = next(c for c in of_type(company, "docker:index/container:Container") if c.name.endswith("config-writer"))
    uploads = {u["file"]: u for u in engine.reveal(writer.inputs["uploads"])}
    # The manager's copy is named by its digest (gitlab-runner keeps one client per CA path): config.toml names it.
    manager_copy = _entries(company)["images"]["tls-ca-file"]
    assert manager_copy.startswith("/etc/gitlab-runner/certs/ca-")
    assert uploads[manager_copy]["content"] == GITLAB_CA.strip() + "\n"
    assert uploads[f"/gitlab-ca/{site.CA_FILE}"]["content"] == GITLAB_CA.strip() + "\n"
    volumes = {v.inputs["name"] for v in of_type(company, "docker:index/volume:Volume")}
    manager = next(c for c in of_type(company, "docker:index/container:Container") if c.name.endswith("-manager"))
    generation = {x["label"]: x["value"] for x in manager.inputs["labels"]}["runner-fleet.io/generation"]
    assert volumes == {f"gitlab-runner-test-build-{generation}-config", "gitlab-runner-test-build-gitlab-ca"}
    entry = _entries(company)["images"]
    assert entry["docker"]["volumes"][-1] == f"gitlab-runner-test-build-gitlab-ca:{site.CA_DIR}:ro"
    secrets = {s.inputs["metadata"]["name"]: s for s in of_type(company, "kubernetes:core/v1:Secret")}
    job_ca = secrets["gitlab-runner-cluster-gitlab-ca"]
    assert job_ca.inputs["metadata"]["namespace"] == "ci-jobs"
    assert engine.reveal(job_ca.inputs["stringData"]) == {"ca.crt": GITLAB_CA.strip() + "\n"}
    assert set(engine.reveal(secrets["gitlab-runner-cluster-config"].inputs["stringData"])) == {
        "config.toml",
        "ca.crt",
        ".runner_system_id",
    }
    k8s = _entries(company)["k8s-images"]["kubernetes"]
    assert k8s["volumes"]["secret"] == [
        {"name": "gitlab-runner-cluster-gitlab-ca", "mount_path": site.CA_DIR, "read_only": True}
    ]


def test_the_kubernetes_objects_validate(company: PlanResult) -> None:
    for res in company.resources:
        if res.type.startswith("kubernetes:") and not res.type.startswith("kubernetes:index"):
            obj = report.manifest(res)
            kubernetes_validate.validate(json.loads(json.dumps(obj)), "1.30.0", strict=True)


def test_a_ca_change_rolls_the_kubernetes_manager_and_only_rewrites_the_docker_config(plan: Plan) -> None:
    other = dict(COMPANY, gitlabCaBundle=GITLAB_CA + GITLAB_CA)  # a bundle of two (here: the same one twice)
    before, after = plan(COMPANY, extra=COMPANY_SECRETS), plan(other, extra=COMPANY_SECRETS)

    def inputs(result: PlanResult, name: str) -> Any:
        (res,) = [r for r in result.resources if r.name == name]
        return engine.reveal(res.inputs)

    assert inputs(before, "host-build-manager") == inputs(after, "host-build-manager")
    assert inputs(before, "host-build-config-writer") != inputs(after, "host-build-config-writer")
    annotations = [
        inputs(r, "host-cluster-manager")["spec"]["template"]["metadata"]["annotations"] for r in (before, after)
    ]
    assert annotations[0] != annotations[1]


def test_the_stack_file_reference_shows_a_working_company_stack(tmp_path: Path, plan: Plan) -> None:
    """The README's example of these keys is a stack that plans."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### In a company network", 1)[1].split("\n### ", 1)[0]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    values = {k.removeprefix("runner-fleet:"): v for k, v in yaml.safe_load(example)["config"].items()}
    values["gitlabCaBundle"] = GITLAB_CA
    result = plan(values, extra=COMPANY_SECRETS)
    assert report.config_files(result)


def test_a_ca_in_a_secret_key_is_checked_when_its_value_is_known(plan: Plan) -> None:
    from components.secrets import _checked_ca

    assert _checked_ca("gitlabCa", "  " + GITLAB_CA.replace("\n", "\r\n")) == GITLAB_CA, "delivered canonical"
    body = "MC4CAQAwBQYDK2VwBCIEIHVzZWxlc3Mta2V5LWZvci10ZXN0cy1vbmx5LTAwMA=="  # no real key
    key = f"-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n"
    for value in (key, "bob:hunter2", GITLAB_CA + "x" * 300_000):
        with pytest.raises(ValueError, match="gitlabCaBundle: secret config key 'gitlabCa'") as caught:
            _checked_ca("gitlabCa", value)
        assert "hunter2" not in str(caught.value) and "MC4CAQAw" not in str(caught.value)
    # The offline plan's stand-in cannot be judged: the plan goes on, the CA stays a secret.
    values = dict(COMPANY, gitlabCaBundle={"secret": "gitlabCa"})
    result = plan(values, extra={**COMPANY_SECRETS, "runner-fleet:gitlabCa": {"secure": ciphertext("CIPHERca")}})
    assert [e for e in _entries(result).values() if e.get("tls-ca-file")]
    assert "CIPHERca" not in json.dumps(report.plan_document(result))
