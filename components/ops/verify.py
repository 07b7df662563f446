"""After `pulumi up`: does GitLab see every runner as declared, with an online manager of the expected version?

    pulumi stack output --json > outputs.json
    python -m components.ops.verify --stack-file stacks/Pulumi.prod.yaml --outputs outputs.json [--timeout 120]

For each runner of the stack (its active registration's id from the `runnerIds` output), through GitLab's API
(`GET /runners/:id`, `GET /runners/:id/managers`; the stack's gitlabUrl, or CI_SERVER_URL; a read token in
GITLAB_TOKEN): at least one manager online and recently in contact, its version the one the host's runner image
names, and the tags, paused state and protected-refs setting the stack declares (only these: a runner edited
elsewhere in harmless ways passes). While a manager is still coming up (none online yet, or an older version
during a rollout) it retries, at most --timeout seconds; a setting that differs fails at once. Prints a table,
exits 1 when anything is wrong, 2 on bad input; never prints the token.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any

import gitlab
import gitlab.exceptions
import requests

from components.domain.images import runner_version
from components.domain.model import REDACTED, RETIRING
from components.plan import engine, report
from components.plan.engine import PlanResult
from components.plan.stack_file import StackFileError, read_stack_file
from components.spec import SpecError
from components.spec.problems import one_line
from components.spec.safe_text import escaped_output

TOKEN_ENV = "GITLAB_TOKEN"
RECENT = timedelta(hours=1)
"""How recent a manager's last contact must be: GitLab records contact at most every 40-55 minutes."""
POLL_SECONDS = 5


@dataclass(frozen=True)
class Expected:
    """What the stack declares for one runner's active registration."""

    runner: str
    host: str
    tags: frozenset[str]
    paused: bool
    protected_refs: bool
    version: str | None
    """The manager's release, from the host's runner image (v19.3.0 -> 19.3.0)."""


@dataclass
class Finding:
    """One runner's state: what is wrong, and whether waiting could fix it."""

    expected: Expected
    problems: list[str] = field(default_factory=list)
    waiting: bool = False
    status: str = "ok"


def expected_runners(result: PlanResult) -> dict[str, Expected]:
    """Runner key -> what the plan declares for its active registration and its host."""
    images = _host_images(result)
    parents = {
        r.urn: r.name.removeprefix("runner-") for r in result.resources if r.type.endswith(":RunnerRegistration")
    }
    hosts = {
        runner.removeprefix(f"{result.stack}-"): host for host, text in _host_runners(result).items() for runner in text
    }
    found = {}
    for res in result.resources:
        inputs = engine.reveal(res.inputs)
        if res.type != "gitlab:index/userRunner:UserRunner" or str(inputs.get("description", "")).endswith(RETIRING):
            continue  # a retiring registration is not the one runnerIds names
        key = parents[res.parent]
        host = hosts.get(key, "?")
        version = runner_version(images.get(host, ""))
        found[key] = Expected(
            runner=key,
            host=host,
            tags=frozenset(inputs.get("tagLists") or []),
            paused=bool(inputs.get("paused")),
            protected_refs=inputs.get("accessLevel") == "ref_protected",
            version=version.removeprefix("v") if version else None,
        )
    return dict(sorted(found.items()))


def _host_runners(result: PlanResult) -> dict[str, list[str]]:
    """Host key -> the config.toml names of its runners, from the plan's own host summary."""
    return {host: list(info["runners"]) for host, info in report.hosts_summary(result).items()}


def _host_images(result: PlanResult) -> dict[str, str]:
    """Host key -> the manager's image, from the Docker RemoteImage or the Deployment."""
    images: dict[str, str] = {}
    for res in result.resources:
        inputs = engine.reveal(res.inputs)
        host = res.parent.rsplit("::host-", 1)[-1] if "::host-" in res.parent else None
        if res.type == "docker:index/remoteImage:RemoteImage" and host:
            images[host] = str(inputs["name"])
        elif res.type == "kubernetes:apps/v1:Deployment" and host:
            images[host] = str(inputs["spec"]["template"]["spec"]["containers"][0]["image"])
    return images


def check(client: gitlab.Gitlab, runner_id: str, expected: Expected, now: datetime) -> Finding:
    """One runner against GitLab's view of it."""
    finding = Finding(expected)
    try:
        runner = client.http_get(f"/runners/{runner_id}")
        managers = client.http_list(f"/runners/{runner_id}/managers", get_all=True)
    except gitlab.exceptions.GitlabError as exc:
        if exc.response_code != HTTPStatus.NOT_FOUND:
            raise
        finding.problems.append(f"runner {runner_id} not found (deleted outside Pulumi, or stale runnerIds)")
        finding.status = "wrong"
        return finding
    if not isinstance(runner, dict) or not isinstance(managers, list):
        finding.problems.append("GitLab's answer is not a runner (a login page or a proxy in the way?)")
        finding.status = "wrong"
        return finding
    online = [m for m in managers if isinstance(m, dict) and _online(m, now)]
    if not online:
        finding.waiting = True
        seen = sorted({str(m.get("status", "?")) for m in managers if isinstance(m, dict)}) or ["no manager"]
        finding.problems.append(
            f"no manager online and in contact within {int(RECENT.total_seconds())} s ({', '.join(seen)})"
        )
    elif expected.version and not any(
        str(m.get("version", "")).removeprefix("v").startswith(expected.version) for m in online
    ):
        finding.waiting = True
        versions = ", ".join(sorted({str(m.get("version")) for m in online}))
        finding.problems.append(f"manager version {versions}, expected {expected.version}")
    tags = frozenset(runner.get("tag_list") or [])
    if tags != expected.tags:
        finding.problems.append(f"tags {sorted(tags)}, declared {sorted(expected.tags)}")
    paused = bool(runner.get("paused", not runner.get("active", True)))
    if paused != expected.paused:
        finding.problems.append(
            f"{'paused' if paused else 'active'}, declared {'paused' if expected.paused else 'active'}"
        )
    declared_level = "ref_protected" if expected.protected_refs else "not_protected"
    if (runner.get("access_level") == "ref_protected") != expected.protected_refs:
        finding.problems.append(f"access level {runner.get('access_level')}, declared {declared_level}")
    finding.status = (
        "ok" if not finding.problems else "waiting" if finding.waiting and len(finding.problems) == 1 else "wrong"
    )
    return finding


def _last_contact(managers: Sequence[Any]) -> str:
    moments = sorted(str(m.get("contacted_at")) for m in managers if isinstance(m, dict) and m.get("contacted_at"))
    return moments[-1] if moments else "never"


def _release(version: object) -> str:
    """A manager's version as its release: "v19.3.0", "19.3.0~pre.1" and "19.3.0+abc" are all 19.3.0."""
    text = str(version or "").removeprefix("v")
    return re.split(r"[~+-]", text, maxsplit=1)[0]


def _online(manager: Mapping[str, Any], now: datetime) -> bool:
    if manager.get("status") != "online":
        return False
    contacted = manager.get("contacted_at")
    try:
        moment = datetime.fromisoformat(str(contacted).replace("Z", "+00:00"))
    except ValueError:
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # GitLab's timestamps are UTC
    return now - moment <= RECENT


def _table(findings: Sequence[Finding]) -> str:
    rows = [("runner", "host", "status", "what is wrong")]
    rows += [(f.expected.runner, f.expected.host, f.status, "; ".join(f.problems) or "-") for f in findings]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join("  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3] for r in rows)


def _inputs(args: argparse.Namespace, env: Mapping[str, str]) -> tuple[dict[str, Expected], dict[str, str], list[str]]:
    """What is declared, the runner ids from the outputs, the GitLab URLs to try (the stack's, then CI_SERVER_URL);
    ValueError says what is missing."""
    try:
        result = engine.run(read_stack_file(args.stack_file))
    except (StackFileError, SpecError) as exc:
        raise ValueError(f"{args.stack_file}: {str(exc).splitlines()[0]}") from None
    try:
        outputs = json.loads(args.outputs.read_text())
        ids = {str(k): str(v) for k, v in outputs["runnerIds"].items()}
    except (OSError, ValueError, KeyError, AttributeError, TypeError):
        raise ValueError(f"--outputs {args.outputs}: expected `pulumi stack output --json` with runnerIds") from None
    declared = expected_runners(result)
    missing = sorted(set(declared) - set(ids))
    if missing:
        raise ValueError(f"runnerIds has no id for {', '.join(missing)}: run pulumi up first")
    urls = [u for u in (_gitlab_url(result), env.get("CI_SERVER_URL", "").strip()) if u]
    return declared, ids, urls


def _gitlab_url(result: PlanResult) -> str:
    """The GitLab the stack's provider talks to (its baseUrl without /api/v4), or ""."""
    for res in result.resources:
        if res.type == "pulumi:providers:gitlab":
            base = str(engine.reveal(res.inputs).get("baseUrl", ""))
            return base.removesuffix("/").removesuffix("/api/v4")
    return ""


def _check_all(
    urls: Sequence[str], token: str, ids: Mapping[str, str], declared: Mapping[str, Expected], timeout: int
) -> list[Finding]:
    """Every runner, through the first URL that answers (the stack's, then CI_SERVER_URL)."""
    for i, url in enumerate(urls):
        session = requests.Session()
        session.max_redirects = 0  # never send the token to wherever a redirect points
        client = gitlab.Gitlab(url, private_token=token, session=session, timeout=timeout)
        try:
            return [check(client, ids[key], exp, datetime.now(UTC)) for key, exp in declared.items()]
        except requests.ConnectionError:
            if i == len(urls) - 1:
                raise
    return []


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """The command; what it prints may quote GitLab's answers: control characters are escaped (safe_text)."""
    with escaped_output():
        return _main(argv, env)


def _main(argv: Sequence[str] | None, env: Mapping[str, str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m components.ops.verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack-file", required=True, type=Path)
    parser.add_argument("--outputs", required=True, type=Path, help="pulumi stack output --json")
    parser.add_argument("--timeout", type=int, default=120, help="seconds to wait for managers (default 120)")
    args = parser.parse_args(argv)
    environment = os.environ if env is None else env
    token = environment.get(TOKEN_ENV, "").strip()
    try:
        declared, ids, urls = _inputs(args, environment)
        if not token:
            raise ValueError(f"{TOKEN_ENV} is not set (a token that can read the runners)")
        if not urls:
            raise ValueError("no GitLab URL: the stack's gitlabUrl, or CI_SERVER_URL")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    deadline = time.monotonic() + max(args.timeout, 0)
    while True:
        try:
            findings = _check_all(urls, token, ids, declared, min(30, max(5, args.timeout)))
        except gitlab.exceptions.GitlabError as exc:
            message = one_line(str(exc.error_message or exc).replace(token, REDACTED))[:300]
            print(f"error: GitLab answered HTTP {exc.response_code}: {message}", file=sys.stderr)
            return 1
        except requests.RequestException as exc:
            print(f"error: GitLab did not answer ({type(exc).__name__}) at {', '.join(urls)}", file=sys.stderr)
            return 1
        waiting = [f for f in findings if f.status == "waiting"]
        left = deadline - time.monotonic()
        if not waiting or any(f.status == "wrong" for f in findings) or left <= 0:
            break
        print(f"waiting for {len(waiting)} runner(s) to come online ({int(left)} s left)", file=sys.stderr)
        time.sleep(min(POLL_SECONDS, max(left, 0)))
    print(_table(findings))
    return 0 if all(f.status == "ok" for f in findings) else 1


if __name__ == "__main__":
    sys.exit(main())
