"""What a reviewer reads: the terminal summary, impact.md's names, capacity and masked config.toml diff (issue 21
part 5, issue 20 part 2)."""

from __future__ import annotations

import copy
import json
import os
import pty
import re
import select
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest

from bench import fleets as bench_fleets
from components.plan import capacity, config_diff, console, impact
from components.plan.__main__ import main
from tests.conftest import ROOT
from tests.fleets import COMPANY, COMPANY_SECRETS, ciphertext, fleet, write_stack

NOW = ["--now", "2027-01-02T05:00:00Z"]
FLEET_URN = "urn:pulumi:s::runner-fleet::runner-fleet:fleet:RunnerFleet"
SEMANTICS = json.loads((ROOT / "reference" / "provider-semantics.json").read_text())

OVERLAP = (
    "mgr-bbbb starts first; mgr-aaaa takes jobs beside it until the end of the run (limit and concurrent count per "
    "manager), then drains up to 2 h 5 min; never fewer than 1"
)


def _plan(tmp: Path, name: str, values: dict[str, Any], base: Path | None = None, secrets: Any = None) -> Path:
    folder = tmp / name
    folder.mkdir()
    out = folder / "out"
    args = ["--stack-file", str(write_stack(folder, values, "test", secrets)), "--out", str(out), *NOW]
    assert main(args + (["--compare", str(base)] if base else [])) in (0, 3)
    return out


def _diff_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```diff\n(.*?)^```$", markdown, re.M | re.S)


def test_a_config_toml_setting_is_a_masked_diff_block_and_a_tag_change_is_beside_it(tmp_path: Path) -> None:
    base = _plan(tmp_path, "base", COMPANY, secrets=COMPANY_SECRETS)
    changed = copy.deepcopy(COMPANY)
    changed["runners"]["tests"]["limit"] = 7
    changed["runners"]["tests"]["tags"] = ["tests", "fast"]
    rotated = dict(COMPANY_SECRETS, **{"runner-fleet:cacheSecretKey": {"secure": ciphertext("CIPHERrotated")}})
    out = _plan(tmp_path, "new", changed, base, rotated)
    text = (out / "impact.md").read_text()
    (block,) = [b for b in _diff_blocks(text) if "build/config.toml" in b]
    assert "+limit = 7" in block.splitlines(), block
    assert "tagLists `tests` → `fast`, `tests`" in text or "tagLists `tests` → `tests`, `fast`" in text, text
    # No token, no secret config value, no ciphertext: in impact.md, impact.json or the note built from them.
    written = text + (out / "impact.json").read_text()
    for leak in (
        "glrt-",
        "CIPHER",
        "mock-secret-value-of",
        *COMPANY_SECRETS["runner-fleet:registryAuth"]["secure"].split(":")[1:],
    ):
        assert leak not in written, leak


def test_masking_shows_only_values_of_keys_known_to_hold_no_secret() -> None:
    """Hand-written config.toml (the oracle is the file itself): a cache secret, a token, a registry auth in the job
    environment, a password in a plugin's config and a key nobody listed are masked; their lines still show."""
    before = """concurrent = 4
[[runners]]
name = "a"
url = "https://user:pw@gitlab.test"
token = "glrt-abcdefabcdefabcdefab"
limit = 2
environment = ["BUILDKITD_FLAGS=--oci-worker-no-process-sandbox", "DOCKER_AUTH_CONFIG={\\"auths\\":1}"]
[runners.cache.s3]
BucketName = "b"
SecretKey = "s3cr3t"
[runners.autoscaler.connector_config]
username = "ec2-user"
password = "hunter2"
[runners.docker]
image = "alpine:3.22"
unknown_passthrough = "maybe-secret"
"""
    after = before.replace("limit = 2", "limit = 3").replace("hunter2", "hunter3").replace("s3cr3t", "other")
    found = config_diff.host_diff("h", before, after)
    text = "\n".join(found["diff"])
    assert "-limit = 2" in found["diff"] and "+limit = 3" in found["diff"]
    for secret in ("glrt-", "s3cr3t", "other", "hunter", "auths", "maybe-secret", "user:pw"):
        assert secret not in text, secret
    masked = config_diff.masked(tomllib.loads(before))
    assert masked["runners"][0]["environment"][0] == "BUILDKITD_FLAGS=--oci-worker-no-process-sandbox"
    assert masked["runners"][0]["docker"]["image"] == "alpine:3.22"
    assert found["hidden"] == ["runners[a].autoscaler.connector_config.password", "runners[a].cache.s3.SecretKey"]


def test_masking_walks_every_table_down_to_its_leaves() -> None:
    """A table whose key is a shown setting is still walked: a CSI volume's attributes, an annotation, a custom label or
    toleration never show their values (the reviewer's finding); the AppArmor annotation runner-fleet renders, a
    well-known node label, a taint effect and a volume's mount path do."""
    before = """[[runners]]
name = "a"
[runners.kubernetes.pod_annotations]
"vault.hashicorp.com/token" = "S3CRET2"
"container.apparmor.security.beta.kubernetes.io/build" = "unconfined"
[runners.kubernetes.pod_labels]
team = "S3CRET3"
[runners.kubernetes.node_selector]
"kubernetes.io/arch" = "arm64"
pool = "S3CRET4"
[runners.kubernetes.node_tolerations]
"dedicated=builds" = "NoSchedule"
odd = "S3CRET5"
[[runners.kubernetes.volumes.csi]]
name = "vault"
mount_path = "/run/secrets/app"
driver = "secrets-store.csi.k8s.io"
volume_attributes = { password = "S3CRET", name = "S3CRET6" }
[[runners.kubernetes.volumes.config_map]]
name = "conf"
mount_path = "/conf"
items = { "key" = "S3CRET7" }
[runners.docker]
volumes = ["/cache", { odd = "S3CRET8" }]
"""
    shown = json.dumps(config_diff.masked(tomllib.loads(before)))
    for n in ("", "2", "3", "4", "5", "6", "7", "8"):
        assert f'S3CRET{n}"' not in shown, n
    kubernetes = config_diff.masked(tomllib.loads(before))["runners"][0]["kubernetes"]
    assert kubernetes["pod_annotations"]["container.apparmor.security.beta.kubernetes.io/build"] == "unconfined"
    assert kubernetes["node_selector"]["kubernetes.io/arch"] == "arm64"
    assert kubernetes["node_tolerations"]["dedicated=builds"] == "NoSchedule"
    (csi,) = kubernetes["volumes"]["csi"]
    assert csi["mount_path"] == "/run/secrets/app" and csi["volume_attributes"]["password"] == "[secret]"
    # A change under a masked leaf still reaches the reviewer, by key path only.
    found = config_diff.host_diff("h", before, before.replace('password = "S3CRET"', 'password = "ROTATED"'))
    assert "ROTATED" not in "\n".join(found["diff"])
    assert found["hidden"] == ["runners[a].kubernetes.volumes.csi[vault].volume_attributes.password"]


def _managers(document: dict[str, Any]) -> dict[str, str]:
    """host -> manager container name, read from plan.json's labels (what the engine would create)."""
    found = {}
    for res in document["resources"]:
        labels = {x["label"]: x["value"] for x in res["inputs"].get("labels") or []}
        if labels.get("runner-fleet.io/role") == "manager":
            found[labels["runner-fleet.io/host"]] = res["inputs"]["name"]
    return found


def test_a_manager_upgrade_names_every_drained_manager_and_its_capacity(tmp_path: Path) -> None:
    values = fleet()
    base = _plan(tmp_path, "base", values)
    upgraded = copy.deepcopy(values)
    for host in upgraded["hosts"].values():
        host["runnerImage"] = "gitlab/gitlab-runner:alpine-v19.4.0"
    out = _plan(tmp_path, "new", upgraded, base)
    text = (out / "impact.md").read_text()
    old = _managers(json.loads((base / "plan.json").read_text()))
    new_document = json.loads((out / "plan.json").read_text())
    assert len(old) == 3
    for host, name in old.items():
        assert f"- drained: `{name}`" in text, (host, name)
    found = json.loads((out / "impact.json").read_text())
    for host in old:
        cap = found["hosts"][host]["capacity"]
        manager = next(r for r in new_document["resources"] if r["inputs"].get("name") == _managers(new_document)[host])
        # The provider semantics: the program's option wins; unset, a Docker container is replaced delete-first.
        option = manager["options"].get("deleteBeforeReplace")
        rule = SEMANTICS["resources"]["docker:index/container:Container"]["deleteBeforeReplace"]
        first = option if option is not None else rule
        if first:
            assert cap["lowest"] == 0 and "NO MANAGER TAKES JOBS" in text
        else:
            assert cap["lowest"] == 1 and "never fewer than 1" in found["hosts"][host]["capacityLine"]


def _doc(resources: list[dict[str, Any]], hosts: tuple[str, ...] = ("h",)) -> dict[str, Any]:
    return {"stack": "s", "hosts": {h: {"runners": {}} for h in hosts}, "resources": resources}


def _container(name: str, image: str, dbr: bool | None, urn: str = "urn:c") -> dict[str, Any]:
    return {
        "type": "docker:index/container:Container",
        "name": "host-h-manager",
        "urn": urn,
        "parent": FLEET_URN + "$runner-fleet:docker_host:DockerRunnerHost::host-h",
        "custom": True,
        "inputs": {
            "name": name,
            "image": image,
            "destroyGraceSeconds": 7500,
            "labels": [{"label": "runner-fleet.io/role", "value": "manager"}],
        },
        "options": {"deleteBeforeReplace": dbr, "protect": False},
    }


@pytest.mark.parametrize(("dbr", "lowest"), [(None, 0), (True, 0), (False, 1)])
def test_a_replaced_docker_manager_follows_the_order_the_semantics_give(dbr: bool | None, lowest: int) -> None:
    """provider-semantics: a Docker container is replaced delete-first unless the program's option says false."""
    base = _doc([_container("mgr-aaaa", "runner:1", dbr)])
    new = _doc([_container("mgr-bbbb", "runner:2", dbr)])
    found = impact.compare(base, new)
    cap = found["hosts"]["h"]["capacity"]
    assert cap["lowest"] == lowest
    line = found["hosts"]["h"]["capacityLine"]
    if lowest == 0:
        assert line.startswith("NO MANAGER TAKES JOBS for up to 2 h 5 min") and "mgr-aaaa" in line
    else:
        assert line == "1 → 2 managers: " + OVERLAP
    assert "- drained: `mgr-aaaa`" in impact.markdown(found, "s")


def test_a_successor_under_a_new_urn_overlaps_and_a_removed_host_is_said_loudly() -> None:
    base = _doc([_container("mgr-aaaa", "runner:1", None, "urn:old")])
    moved = _doc([_container("mgr-bbbb", "runner:2", None, "urn:new")])
    line = impact.compare(base, moved)["hosts"]["h"]["capacityLine"]
    assert OVERLAP in line
    gone = impact.compare(base, _doc([], hosts=()))
    assert gone["hosts"]["h"]["capacityLine"].startswith("NO MANAGER from now on: the host is removed (mgr-aaaa")
    assert "**host h: NO MANAGER from now on" in impact.markdown(gone, "s")


@pytest.mark.parametrize(
    ("strategy", "lowest"),
    [({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}, 2), ({"type": "Recreate"}, 0)],
)
def test_a_kubernetes_roll_keeps_its_replicas_with_max_unavailable_zero(strategy: dict[str, Any], lowest: int) -> None:
    def deployment(image: str) -> dict[str, Any]:
        spec = {"replicas": 2, "strategy": strategy, "template": {"spec": {"terminationGracePeriodSeconds": 3660}}}
        spec["template"]["spec"]["containers"] = [{"image": image}]
        return {
            "type": "kubernetes:apps/v1:Deployment",
            "name": "host-h-manager",
            "urn": "urn:d",
            "parent": "urn:x$runner-fleet:kubernetes_host:KubernetesRunnerHost::host-h",
            "custom": True,
            "inputs": {"metadata": {"name": "gitlab-runner-h", "namespace": "ci"}, "spec": spec},
            "options": {"deleteBeforeReplace": None, "protect": False},
        }

    found = impact.compare(_doc([deployment("runner:1")]), _doc([deployment("runner:2")]))
    assert found["hosts"]["h"]["effect"] == "roll" and found["hosts"]["h"]["capacity"]["lowest"] == lowest


def test_durations_read_as_hours_and_minutes() -> None:
    assert [capacity.duration(s) for s in (7500, 3660, 45, 0)] == ["2 h 5 min", "1 h 1 min", "45 s", "0 s"]


def _command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "components.plan", *args, *NOW],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # what a terminal shows: both streams together
        text=True,
        timeout=900,
    )


def test_a_thousand_runners_with_one_changed_print_at_most_100_lines(tmp_path: Path) -> None:
    values = bench_fleets.fleet(1000)
    for runner in values["runners"].values():
        runner["runUntagged"] = True  # every BuildKit runner then gets the advisory buildkit-runs-untagged
    changed = copy.deepcopy(values)
    changed["runners"]["r7"]["limit"] = 5
    (tmp_path / "new").mkdir()
    base_stack, new_stack = write_stack(tmp_path, values, "bench"), write_stack(tmp_path / "new", changed, "bench")
    first = _command("--stack-file", str(base_stack), "--out", str(tmp_path / "base"))
    second = _command(
        "--stack-file", str(new_stack), "--out", str(tmp_path / "out"), "--compare", str(tmp_path / "base")
    )
    for done in (first, second):
        assert done.returncode == 0, done.stdout[-3000:]
        assert len(done.stdout.splitlines()) <= 100, done.stdout
        # The same program warning about many hosts is one line, with its count and examples (it was ten lines).
        (concurrent,) = [line for line in done.stdout.splitlines() if ".concurrent: " in line]
        assert re.match(r"warning: hosts\.<host>\.concurrent: \d+ warnings \(\w+, \w+, \w+, \.\.\.\)", concurrent)
    policies = json.loads((tmp_path / "out" / "plan.json").read_text())["policies"]
    untagged = [p for p in policies if p["rule"] == "buildkit-runs-untagged"]
    assert len(untagged) > 300
    assert f"warning: policy buildkit-runs-untagged: {len(untagged)} findings (" in second.stdout
    host = changed["runners"]["r7"]["host"]
    assert f"impact: host {host}: reload" in second.stdout
    assert f"{tmp_path / 'out'}/tree.txt" in second.stdout and "+ runner-fleet:fleet:RunnerFleet" not in second.stdout
    (block,) = _diff_blocks((tmp_path / "out" / "impact.md").read_text())
    assert "+limit = 5" in block.splitlines()


def test_program_warnings_group_by_finding_with_the_host_or_runner_abstracted() -> None:
    many = [f"hosts.d{i}.concurrent: {i % 3 + 1} is lower than the 10 runners on this host" for i in range(40)]
    few = [f"runners.r{i}.maximumTimeout: runner r{i} has no maximum timeout" for i in range(2)]
    other = "hosts.d1: no runner is placed on this host; its manager will have nothing to run"
    lines = console.warning_lines([*many, other, *few])
    assert lines == [
        f"warning: hosts.<host>.concurrent: 40 warnings (d0, d1, d2, ...); the first: {many[0]} "
        "(every one in plan.json: warnings)",
        f"warning: {other}",
        *(f"warning: {w}" for w in few),
    ]
    assert len(console.warning_lines([f"k{i}: finding {i}" for i in range(50)])) == console.MAX_WARNINGS


def _under_pty(args: list[str]) -> str:
    """The command with stderr (and stdout) on a pseudo-terminal: what a person at a terminal sees."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "components.plan", *args], cwd=ROOT, stdout=follower, stderr=follower
    )
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 1)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    proc.wait(timeout=60)
    os.close(leader)
    return seen.decode(errors="replace")


def test_progress_shows_on_a_terminal_only(tmp_path: Path) -> None:
    stack = write_stack(tmp_path, bench_fleets.fleet(400), "bench")
    args = ["--stack-file", str(stack), "--out", str(tmp_path / "tty"), *NOW]
    started = time.monotonic()
    shown = _under_pty(args)
    if time.monotonic() - started < 3:
        pytest.skip("the plan ran in under 3 s on this machine: no progress is due")
    assert "plan: running the program under the mock engine" in shown, shown[-2000:]
    piped = _command("--stack-file", str(stack), "--out", str(tmp_path / "pipe"))
    assert "plan: running" not in piped.stdout and "\r" not in piped.stdout


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("http://ci:Tr0ub4dor@x3@proxy:3128", "http://[secret]@proxy:3128"),  # a password holding '@'
        ("user:s3cr3t@proxy:3128", "[secret]@proxy:3128"),  # no scheme
        ("alpine:3.22@sha256:" + "a" * 64, "alpine:3.22@sha256:" + "a" * 64),  # a digest is no credential
    ],
)
def test_credentials_in_a_shown_value_are_cut_up_to_the_last_at(value: str, shown: str) -> None:
    from components.plan import config_diff

    assert config_diff._shown(value) == shown
