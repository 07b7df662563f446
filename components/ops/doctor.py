"""Preflight before adding a host: can it run rootless BuildKit, and what exactly to change if not. Read-only.

    python -m components.ops.doctor --stack-file stacks/Pulumi.dev.yaml [--host build-1] [--facts recorded.json]

Runs where an operator sits, with that operator's credentials (no Pulumi CLI, no stack secrets). Gathering and
judging are apart: `gather_*` run read-only commands (ssh to a Docker host as the stack declares it, or the Docker
API for tcp:// and unix://; `kubectl` with the host's context), in one place, and return facts; `judge_*` are pure
functions from facts to findings, unit tested with recorded facts of good and bad hosts. Node kernels of a cluster
are not reachable without a privileged pod, which this command never starts: it prints the command to run on a
build node instead. `--facts FILE` judges recorded facts (host key -> facts, as `gather_*` return them)
without touching any host.
Exit 0 when nothing blocks BuildKit, 1 when something does, 2 on bad input.

What it runs here: `ssh` (the OpenSSH client) for ssh:// Docker hosts (the docker CLI then runs on the host), the
docker CLI for tcp:// and unix:// Docker hosts, `kubectl` for Kubernetes hosts. A missing one is named, with how to
install it (`TOOLS`); every error is shown whole (controls escaped, never cut).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.domain.model import HostSpec
from components.domain.targets import DockerTarget, KubernetesTarget
from components.plan.stack_file import StackFileError, read_stack_file
from components.providers import AMBIENT, ambient_warnings
from components.spec import SpecError, parse_spec
from components.spec.safe_text import escaped_output

MIN_DOCKER = (20, 10)
MIN_KUBERNETES = (1, 30)
MIN_FREE_GIB = 20
NODE_COMMAND = (
    "sysctl user.max_user_namespaces kernel.unprivileged_userns_clone kernel.apparmor_restrict_unprivileged_userns "
    "2>/dev/null; stat -fc %T /sys/fs/cgroup; cat /sys/kernel/security/apparmor/profiles >/dev/null 2>&1 && "
    "echo apparmor: yes; grep -c seccomp /proc/self/status; df -BG /var/lib"
)
"""Read-only checks to run on a Kubernetes build node (the doctor never starts a pod there)."""
KERNEL_COMMAND = (
    "for k in user.max_user_namespaces kernel.unprivileged_userns_clone kernel.apparmor_restrict_unprivileged_userns; "
    'do printf "%s=%s\\n" "$k" "$(sysctl -n "$k" 2>/dev/null)"; done; '
    'printf "cgroup=%s\\n" "$(stat -fc %T /sys/fs/cgroup)"; '
    'printf "free_gib=%s\\n" "$(df -BG --output=avail /var/lib/docker 2>/dev/null | tail -1 | tr -dc 0-9)"'
)


@dataclass(frozen=True)
class Finding:
    """One thing the doctor found: `block` stops rootless BuildKit, `warn` may, `ok` is fine; `fix` says how."""

    host: str
    level: str
    what: str
    fix: str = ""


def _version(text: object) -> tuple[int, ...]:
    parts = [p for p in str(text or "").lstrip("v").split(".")[:2] if p.isdigit()]
    return tuple(int(p) for p in parts) or (0,)


def _text(facts: Mapping[str, Any], key: str) -> str | None:
    """A fact as text (booleans as 1/0), or None when it was not gathered."""
    value = facts.get(key)
    if value is None or value == "":
        return None
    return str(int(value)) if isinstance(value, bool) else str(value).strip()


def _list(facts: Mapping[str, Any], key: str) -> list[Any]:
    value = facts.get(key)
    return value if isinstance(value, list) else []


def judge_docker(host: str, facts: Mapping[str, Any]) -> list[Finding]:
    """A Docker host's facts (`gather_docker`) against what rootless BuildKit jobs need."""
    found: list[Finding] = []
    engine = str(facts.get("server_version", ""))
    if _version(engine) < MIN_DOCKER:
        found.append(
            Finding(host, "block", f"Docker Engine {engine or 'unknown'}", "upgrade Docker Engine to 20.10 or newer")
        )
    options = [str(o) for o in _list(facts, "security_options")]
    if not any(o.startswith("name=seccomp") for o in options):
        found.append(
            Finding(host, "warn", "seccomp is not enabled in the engine", "use a kernel and engine with seccomp")
        )
    if _text(facts, "cgroup_version") != "2" and _text(facts, "cgroup") != "cgroup2fs":
        found.append(Finding(host, "warn", "cgroup v1", "boot with systemd.unified_cgroup_hierarchy=1 (cgroup v2)"))
    found += judge_kernel(host, facts)
    return found or [Finding(host, "ok", "ready for rootless BuildKit")]


KERNEL_KEYS = ("user.max_user_namespaces", "kernel.apparmor_restrict_unprivileged_userns")


def judge_kernel(host: str, facts: Mapping[str, Any]) -> list[Finding]:
    """User namespaces, the AppArmor restriction of Ubuntu 23.10+, and disk space for BuildKit's state."""
    found: list[Finding] = []
    if not any(_text(facts, key) is not None for key in KERNEL_KEYS):
        return [
            Finding(
                host, "warn", "the kernel was not checked (no ssh to this host)", f"on the host run: {NODE_COMMAND}"
            )
        ]
    if _text(facts, "user.max_user_namespaces") == "0":
        found.append(
            Finding(
                host,
                "block",
                "user namespaces are disabled",
                "sysctl -w user.max_user_namespaces=28633 (and in /etc/sysctl.d)",
            )
        )
    if _text(facts, "kernel.unprivileged_userns_clone") == "0":
        found.append(
            Finding(
                host, "block", "unprivileged user namespaces are off", "sysctl -w kernel.unprivileged_userns_clone=1"
            )
        )
    if _text(facts, "kernel.apparmor_restrict_unprivileged_userns") == "1":
        found.append(
            Finding(
                host,
                "block",
                "kernel.apparmor_restrict_unprivileged_userns=1 (Ubuntu 23.10+): rootlesskit fails with "
                "'permission denied' on newuidmap",
                "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (persist in /etc/sysctl.d/), or an "
                "AppArmor profile that allows userns for the BuildKit containers",
            )
        )
    free = _version(_text(facts, "free_gib"))[0] if _text(facts, "free_gib") else None
    if free is not None and free < MIN_FREE_GIB:
        found.append(
            Finding(
                host, "warn", f"{free} GiB free for images and BuildKit state", f"keep at least {MIN_FREE_GIB} GiB free"
            )
        )
    return found


def judge_kubernetes(
    host: str, target: KubernetesTarget, facts: Mapping[str, Any], *, buildkit: bool = False
) -> list[Finding]:
    """A cluster's facts (`gather_kubernetes`) against what the host's manager and (with `buildkit`, when the host
    has BuildKit runners) its unconfined build containers need."""
    found: list[Finding] = []
    version = str(facts.get("server_version", ""))
    if _version(version) < MIN_KUBERNETES and not target.apparmor_fallback:
        found.append(
            Finding(
                host,
                "block",
                f"Kubernetes {version or 'unknown'}: the appArmorProfile field needs 1.30",
                "upgrade the cluster, or set appArmorAnnotationFallback: true for this host",
            )
        )
    labels = facts.get("job_namespace_labels")
    if isinstance(labels, dict) and labels:
        level = labels.get("pod-security.kubernetes.io/enforce")
        allowed = ("privileged",) if buildkit else ("privileged", "baseline")
        if level is not None and level not in allowed:
            found.append(
                Finding(
                    host,
                    "block",
                    f"job namespace {target.job_namespace} enforces Pod Security {level}",
                    "let runner-fleet own the namespace (it sets the level), or label it privileged (BuildKit)",
                )
            )
    for node in _list(facts, "nodes"):
        if not isinstance(node, dict) or "linux" not in str(node.get("os", "linux")).lower():
            continue
        kernel = str(node.get("kernel", ""))
        if _version(kernel) < (5, 11):
            found.append(
                Finding(
                    host,
                    "warn",
                    f"node {node.get('name')} runs kernel {kernel}",
                    "use kernel 5.11+ (rootless overlayfs)",
                )
            )
    found.append(
        Finding(host, "info", "node kernels cannot be read from the API", f"on a build node run: {NODE_COMMAND}")
    )
    return found


# --- gathering: read-only commands, in one place ----------------------------------------------------------------


IGNORED_ENVIRONMENT = frozenset(AMBIENT) | {"DOCKER_TLS_VERIFY", "DOCKER_TLS"}
"""Variables the providers do not take from this machine (components/providers.py), nor do doctor's own commands:
the docker CLI would otherwise switch TLS on or off, or take certificates, from them."""


@dataclass(frozen=True)
class Tool:
    """A program doctor runs on this machine, and how to get it."""

    name: str
    """What it is, for the message."""
    needed_for: str
    """Which hosts need it."""
    install: str
    """How to install it."""


TOOLS: Mapping[str, Tool] = {
    "ssh": Tool(
        "the OpenSSH client",
        "ssh:// Docker hosts (pulumi up reaches them through it too)",
        "Debian/Ubuntu: apt-get install openssh-client; Fedora/RHEL: dnf install openssh-clients; macOS and "
        "Windows 10+ ship it",
    ),
    "docker": Tool(
        "the Docker CLI",
        "tcp:// and unix:// Docker hosts",
        "Debian/Ubuntu: apt-get install docker.io (or docker-ce-cli from Docker's apt repository); macOS: brew "
        "install docker; see https://docs.docker.com/engine/install/",
    ),
    "kubectl": Tool(
        "kubectl",
        "Kubernetes hosts",
        "see https://kubernetes.io/docs/tasks/tools/ (Debian/Ubuntu: the pkgs.k8s.io apt repository; macOS: brew "
        "install kubectl)",
    ),
}


class MissingTool(RuntimeError):
    """A program doctor needs is not on PATH."""

    def __init__(self, command: str) -> None:
        tool = TOOLS[command]
        super().__init__(f"{tool.name} (`{command}`) is not on PATH; doctor needs it for {tool.needed_for}")
        self.fix = f"install it: {tool.install}"


def _run(command: list[str]) -> str:
    environment = {k: v for k, v in os.environ.items() if k not in IGNORED_ENVIRONMENT}
    if shutil.which(command[0], path=environment.get("PATH", os.defpath)) is None:
        raise MissingTool(command[0])
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, env=environment)
    except FileNotFoundError as exc:  # gone between the look-up and the start
        raise MissingTool(command[0]) from exc
    if done.returncode != 0:
        # Whole: the last line of an ssh or kubectl error is rarely the one that says why.
        said = done.stderr.strip() or done.stdout.strip() or "no output"
        raise RuntimeError(f"`{shlex.join(command)}` exited with {done.returncode}:\n{said}")
    return done.stdout


DOCKER_INFO = ["docker", "info", "--format", "{{json .}}"]


def docker_info_command(target: DockerTarget) -> list[str]:
    """`docker info` against the engine as its provider reaches it: over ssh with the stack's sshOpts (the provider
    runs `docker system dial-stdio` through ssh on that host; doctor runs `docker info` there), or `docker -H` with
    the stack's TLS directory for tcp:// (ca.pem, cert.pem, key.pem, as the provider's certPath reads them)."""
    if target.scheme == "ssh":  # the ssh:// URL as is: ssh reads its user, host and port
        return ["ssh", *target.ssh_opts, "-o", "BatchMode=yes", target.url, shlex.join(DOCKER_INFO)]
    tls: list[str] = []
    if target.cert_path:
        directory = target.cert_path.rstrip("/")
        tls = ["--tlsverify", f"--tlscacert={directory}/ca.pem", f"--tlscert={directory}/cert.pem"]
        tls.append(f"--tlskey={directory}/key.pem")
    elif target.tls is not None:
        raise RuntimeError(
            "its TLS material is held in secret config keys, which doctor does not decrypt; run `docker --tlsverify "
            "--tlscacert ... -H <url> info` with that material"
        )
    return ["docker", "-H", target.url, *tls, *DOCKER_INFO[1:]]


def gather_docker(target: DockerTarget) -> dict[str, Any]:
    """`docker info` (ssh://, tcp:// or unix://, as the stack declares the engine) and, over ssh, the kernel."""
    info = json.loads(_run(docker_info_command(target)))
    facts: dict[str, Any] = {
        "server_version": info.get("ServerVersion", ""),
        "security_options": info.get("SecurityOptions") or [],
        "cgroup_version": str(info.get("CgroupVersion", "")),
    }
    if target.scheme == "ssh":  # the ssh:// URL as is: ssh reads its user, host and port
        out = _run(["ssh", *target.ssh_opts, "-o", "BatchMode=yes", target.url, KERNEL_COMMAND])
        facts |= dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return facts


def gather_kubernetes(target: KubernetesTarget) -> dict[str, Any]:
    """The API server's version, the job namespace's labels and the nodes' OS and kernel, through kubectl."""
    context = ["--context", target.context] if target.context else []
    version = json.loads(_run(["kubectl", *context, "version", "-o", "json"]))["serverVersion"]
    facts: dict[str, Any] = {"server_version": f"{version['major']}.{version['minor'].rstrip('+')}"}
    try:
        namespace = json.loads(_run(["kubectl", *context, "get", "namespace", target.job_namespace, "-o", "json"]))
        facts["job_namespace_labels"] = namespace["metadata"].get("labels", {})
    except RuntimeError:
        facts["job_namespace_labels"] = {}
    nodes = json.loads(_run(["kubectl", *context, "get", "nodes", "-o", "json"]))["items"]
    facts["nodes"] = [
        {
            "name": n["metadata"]["name"],
            "os": n["status"]["nodeInfo"]["osImage"],
            "kernel": n["status"]["nodeInfo"]["kernelVersion"],
        }
        for n in nodes
    ]
    return facts


def examine(host: HostSpec, facts: Mapping[str, Any] | None, *, buildkit: bool = False) -> list[Finding]:
    target = host.target
    try:
        gathered = (
            dict(facts)
            if facts is not None
            else (gather_docker(target) if isinstance(target, DockerTarget) else gather_kubernetes(target))
        )
    except MissingTool as exc:
        return [Finding(host.key, "block", f"cannot read the host: {exc}", exc.fix)]
    except (RuntimeError, OSError, ValueError, KeyError, subprocess.TimeoutExpired) as exc:
        return [Finding(host.key, "block", f"cannot read the host: {exc}", "check the URL, context and credentials")]
    if isinstance(target, DockerTarget):
        return judge_docker(host.key, gathered)
    return judge_kubernetes(host.key, target, gathered, buildkit=buildkit)


def _show(finding: Finding) -> str:
    """A finding for the terminal, whole: a multi-line `what` (a command's error) indented under its host."""
    what = finding.what.replace("\n", "\n    ")
    return f"{finding.host}: {finding.level}: {what}" + (f"\n  fix: {finding.fix}" if finding.fix else "")


def main(argv: Sequence[str] | None = None) -> int:
    # What remote commands print reaches this terminal: controls are escaped (components/spec/safe_text.py).
    with escaped_output():
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m components.ops.doctor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack-file", required=True, type=Path)
    parser.add_argument("--host", help="only this host key")
    parser.add_argument("--facts", type=Path, help="judge recorded facts (host key -> facts) instead of gathering")
    args = parser.parse_args(argv)
    for line in ambient_warnings(os.environ):  # what `pulumi up` on this machine ignores, or still honours
        print(line, file=sys.stderr)
    try:
        stack = read_stack_file(args.stack_file)
        values = {k.split(":", 1)[1]: v for k, v in stack.config.items() if k.startswith("runner-fleet:")}
        spec = parse_spec(values, stack=stack.stack, secret_keys=[k.split(":", 1)[1] for k in stack.secret_keys])
        recorded = json.loads(args.facts.read_text()) if args.facts else None
    except (StackFileError, SpecError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)  # every problem, not the first line
        return 2
    hosts = [h for h in spec.hosts if args.host in (None, h.key)]
    if not hosts:
        print(f"error: no host {args.host!r} in {args.stack_file}", file=sys.stderr)
        return 2
    if recorded is not None and not isinstance(recorded, dict):
        print(f"error: --facts {args.facts}: expected a map of host key -> facts", file=sys.stderr)
        return 2
    findings: list[Finding] = []
    for h in hosts:
        buildkit = any(r.buildkit for r in spec.runners_on(h.key))
        if recorded is None:
            findings += examine(h, None, buildkit=buildkit)
        elif isinstance(recorded.get(h.key), dict):
            findings += examine(h, recorded[h.key], buildkit=buildkit)
        else:
            findings.append(
                Finding(h.key, "warn", "no recorded facts for this host", "gather them, or leave --facts out")
            )
    for f in findings:
        print(_show(f))
    return 1 if any(f.level == "block" for f in findings) else 0


if __name__ == "__main__":
    sys.exit(main())
