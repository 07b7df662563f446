"""What a manager with docker-autoscaler runners needs (`components/domain/autoscaler.py`): its plugins installed at
start, and a new container when anything only a restart applies changes. Pure; the Docker host component wires it.

Evidence (gitlab-runner v19.3.0 source): `commands/fleeting/fleeting.go` (`fleeting install` reads config.toml and
installs each runner's plugin that `installer.LookPath` does not find; an installed one is skipped without network),
`executors/internal/autoscaler/provider.go` (the plugin, its config and the capacity settings are read once per
runner, when its taskscaler starts; a reload re-applies only the policies), the image's `ENTRYPOINT
["/usr/bin/dumb-init", "/entrypoint"]` and `CMD run --user=gitlab-runner --working-directory=/home/gitlab-runner`.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from typing import TYPE_CHECKING

from components.domain.autoscaler import table

if TYPE_CHECKING:
    from components.domain.model import ManagerSpec, RunnerSpec


def autoscaled(runners: tuple[RunnerSpec, ...]) -> tuple[RunnerSpec, ...]:
    """The runners that use docker-autoscaler."""
    return tuple(r for r in runners if r.autoscaler is not None)


def plugins(manager: ManagerSpec) -> tuple[str, ...]:
    """The plugin references the manager must have installed, sorted, each once."""
    return tuple(sorted({r.autoscaler.plugin.reference for r in autoscaled(manager.runners) if r.autoscaler}))


MANAGER_ENTRYPOINT = ("/usr/bin/dumb-init", "/bin/sh", "-c")
"""The manager's entrypoint when it installs plugins: the image's own init (dumb-init, which passes SIGQUIT and the
reloader's SIGHUP on to its child), then a shell that installs and `exec`s the image's entrypoint script."""
RUN_ARGUMENTS = ("run", "--user=gitlab-runner", "--working-directory=/home/gitlab-runner")
"""The image's default command (its CMD), which an explicit entrypoint no longer supplies (moby daemon/commit.go
`merge`: the image's Cmd is taken only when the container sets no Entrypoint)."""
CONFIG_FILE = "/etc/gitlab-runner/config.toml"


def manager_entrypoint(manager: ManagerSpec) -> list[str] | None:
    """The manager container's `entrypoints` when one of its runners autoscales (with `manager_command`); None
    otherwise: the image's own (`/usr/bin/dumb-init /entrypoint`), which passes its command to gitlab-runner and so
    cannot run the install first."""
    return list(MANAGER_ENTRYPOINT) if plugins(manager) else None


def manager_command(manager: ManagerSpec) -> list[str] | None:
    """The manager container's `command` when one of its runners autoscales (after `manager_entrypoint`'s shell);
    None otherwise (the image's own command, as before).

    `gitlab-runner fleeting install` installs every plugin config.toml names that is not installed yet (into
    /root/.config/fleeting/plugins, the container's own layer), then the image's entrypoint runs the manager. A
    failed install (the registry unreachable on the first start) stops the container before it takes a job; such a
    host is replaced delete-first (`overlap_unsafe`), so the old manager is gone by then and the host has none until
    the registry is reached (Docker restarts it). Later restarts of the same container find the pinned versions
    installed and need no network. The set of plugins is in `restart_inputs`: a new plugin means a
    new manager container, which installs it at its start."""
    if not plugins(manager):
        return None
    install = f"gitlab-runner fleeting --config {CONFIG_FILE} install"
    run = shlex.join(["exec", "/entrypoint", *RUN_ARGUMENTS])
    return [f"{install} && {run}"]


def restart_inputs(manager: ManagerSpec) -> tuple[str, ...]:
    """What only a new manager process applies, one line per autoscaled runner: its whole `[runners.autoscaler]`
    table except `policy` (which a reload re-applies), secrets named by their config key, never their value. The
    plugins to install are part of it. Empty for a manager without autoscaled runners, so its generation is as
    before. A secret's new value under the same key reaches config.toml by reload but the plugin keeps the old one
    until the manager restarts."""
    lines = []
    for runner in autoscaled(manager.runners):
        assert runner.autoscaler is not None
        names = {ref: f"[secret:{ref}]" for ref in runner.autoscaler.secret_keys}
        settings = table(runner.autoscaler, names)
        settings.pop("policy", None)
        # What gives the runner a new registration (a new token in config.toml, reloaded): gitlab-runner keys its
        # taskscalers by registration and removes one only when it stops, so a reload would add a second taskscaler
        # of the same instance group. A new registration therefore restarts the manager.
        settings["registration"] = [runner.scope.kind.value, runner.scope.ref]
        lines.append(f"{runner.key}={json.dumps(settings, sort_keys=True, separators=(',', ':'))}")
    return tuple(lines)


def restart_digest(manager: ManagerSpec) -> str | None:
    """`restart_inputs` as one short value for a replace-forcing input of the manager (a label, say); None without
    autoscaled runners (nothing to add, so such a manager's generation does not move)."""
    lines = restart_inputs(manager)
    return "sha256:" + hashlib.sha256("\n".join(lines).encode()).hexdigest() if lines else None


def overlap_unsafe(manager: ManagerSpec) -> bool:
    """Whether two managers of this host must never run at once: an autoscaled runner's instance group would be
    scaled by both, and a manager that starts without state storage removes every instance of the group, those
    running the other manager's jobs included (runner docs: state_storage; docker_autoscaler.md, "Dedicated
    autoscaling groups")."""
    return bool(autoscaled(manager.runners))
