"""The generation of a Docker host's manager: a short name for everything that forces its container's replacement.

The docker provider replaces a container when any of 47 inputs changes (`reference/provider-semantics.json`,
`replaceOnChange`), delete-first unless the program says otherwise, and a container's name is unique on its
engine. To bring a successor up *before* the old manager drains, the successor needs another name: the manager
container, its config volume, config writer and reloader are named `<base>-<generation>`, where the generation is
a digest of `ManagerInputs`, the manager container's replace-forcing inputs *as declared* (docker_host builds the
container from this very object). So a change to any of them (an image upgrade, a proxy, a capability) is a new
generation, hence a new name, and the replacement goes create-first; anything else (runners, tokens, config.toml,
timeouts) leaves the generation, the names and the manager alone. Inputs named after the generation (its name,
its config volume, the generation label) are left out, as are `stopTimeout` (in ignoreChanges) and the published
host port (chosen by Docker, so two generations never want the same one).

Also the manager's `.runner_system_id`: one per generation, so that GitLab sees the successor as a second manager of
the same runners while the old one drains. Pure: no Pulumi import.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

GENERATION_LENGTH = 8
"""Hex digits of a generation: 32 bits, so two generations of one host practically never meet."""

DOCKER_SOCKET = "/var/run/docker.sock"
"""The host's Docker socket, bind-mounted into the manager: how the docker executor starts jobs."""
METRICS_BIND = "127.0.0.1"
"""The host interface the listener is published on: the loopback only, never where jobs or the network reach."""
LOG_DRIVER = "local"
"""Docker's `local` log driver rotates by itself (20 MB x 5 files, compressed). No log options are declared: the
engine merges its own default options into a container whose driver is the daemon's default, and the provider reads
them back, so any declared `logOpts` would differ from what the engine stores on such a host."""
STOP_SIGNAL = "SIGQUIT"
"""gitlab-runner's graceful stop: stop taking jobs, finish the running ones, exit. SIGTERM would abort them."""
SECURITY_OPTS = ("no-new-privileges=true",)
"""The manager's security options: nothing relaxed, no privilege gained through setuid binaries."""
DROPPED_CAPABILITIES = (
    "CAP_AUDIT_WRITE",
    "CAP_MKNOD",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_RAW",
    "CAP_SETFCAP",
    "CAP_SYS_CHROOT",
)
"""The manager needs none of these; docker.sock already makes it powerful, so keep the rest small. Spelled as the
engine stores them: the Go Docker SDK upper-cases, prefixes CAP_ and sorts before sending, and the provider's Read
returns the stored form; a bare name would replace the manager on every `pulumi up`."""
DIRECT = ("localhost", "127.0.0.1")
"""Never through the proxy: the manager's own listener."""

HEALTH_TEST = ("CMD", "gitlab-runner", "health-check", "--port", "9252", "--port", "9252")
"""The manager's health check: gitlab-runner's own `health-check` (in the main binary of every image flavour:
main.go registers helpers.NewHealthCheckCommand) dials localhost:<port> until it connects, so it passes once the
manager's listener is up, i.e. gitlab-runner loaded its config and runs. The port is given twice: the command drops
the last `--port` entry (commands/helpers/health_check.go, an urfave/cli quirk it works around), so one entry is
left whether or not the quirk adds its own."""
HEALTH_TIMING = ("10s", "5s", "5m0s", "0s", 3)
"""(interval, timeout, start period, start interval, retries), spelled as the provider's Read returns them (Go's
time.Duration.String()): probe every 10 s; during the first 5 minutes (a fleeting plugin download) failures do not
count. No start interval: the provider's Docker client refuses a non-zero one below API 1.44 (moby
client/container_create.go), and engines of Docker 20.10-24 speak older APIs."""
WAIT_SECONDS = 300
"""How long the provider's create waits for the new manager to be healthy (`wait`, `waitTimeout`): a successor that
exits, crash-loops or never opens its listener fails the create, so the run stops before the old manager is
stopped (the engine deletes replaced resources only after every create succeeded)."""

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class ManagerInputs:
    """Every input of a Docker manager container that forces its replacement, as the container declares it, except
    those named after the generation (name, config volume, generation label). A new input that forces replacement
    (a `command` to install a fleeting plugin, say) is a new field here, used by docker_host: it then moves the
    generation by itself."""

    image: str
    """The runner image reference (`hosts.<h>.runnerImage`, through the registry mirror)."""
    network: str
    """The manager's own network, shared by its generations (no job joins it)."""
    labels: tuple[tuple[str, str], ...]
    """Its labels (stack, host, role), sorted; the generation label is added by docker_host."""
    ports: tuple[tuple[int, str, str], ...]
    """(internal, host ip, protocol) of each published port (the listener on METRICS_BIND); the host port is
    Docker's choice."""
    envs: tuple[str, ...] = ()
    """`NAME=value` environment (the host's proxy); none by default."""
    entrypoints: tuple[str, ...] = ()
    """The container's entrypoint; empty: the image's own (a host with autoscaled runners installs its fleeting
    plugins first: `domain/fleeting.py`)."""
    command: tuple[str, ...] = ()
    """Arguments after the entrypoint; empty: the image's own command."""
    mounts: tuple[tuple[str, str, str], ...] = (("bind", DOCKER_SOCKET, DOCKER_SOCKET),)
    """(type, source, target) of each mount: the host's Docker socket."""
    security_opts: tuple[str, ...] = SECURITY_OPTS
    """Docker security options."""
    capability_drops: tuple[str, ...] = DROPPED_CAPABILITIES
    """Capabilities dropped, as the engine stores them."""
    stop_signal: str = STOP_SIGNAL
    """The signal its stop sends."""
    log_driver: str = LOG_DRIVER
    """Docker log driver."""
    privileged: bool = False
    """Never privileged."""
    healthcheck: tuple[str, ...] = HEALTH_TEST
    """The health check's command. Not an input that forces replacement (the provider keeps a changed one in state
    only), so it is part of the generation: a new check reaches the engine with a new manager."""
    health_timing: tuple[str, str, str, str, int] = HEALTH_TIMING
    """The health check's timing, for the same reason."""

    @property
    def generation(self) -> str:
        """GENERATION_LENGTH hex digits of the SHA-256 of these inputs (canonical JSON)."""
        text = json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:GENERATION_LENGTH]


def system_id(seed: str) -> str:
    """A manager's identity in GitLab (`.runner_system_id`), derived from `seed`: `s_` + 12 letters and digits,
    which gitlab-runner reads as it is (configfile/system_id_state.go: `^[sr]_[0-9a-zA-Z]{12}$`) instead of making a
    new one per container."""
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big")
    return "s_" + "".join(_BASE62[(number // 62**i) % 62] for i in range(12))


def docker_system_id(stack: str, host_key: str, generation: str) -> str:
    """The `.runner_system_id` of one generation of a Docker host's manager: its own, so that GitLab lists the
    successor beside the draining manager, and stable, so that a config reload or a restart keeps it."""
    return system_id(f"{stack}/{host_key}/{generation}")
