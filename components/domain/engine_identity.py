"""Which hosts of a stack are one machine or may be one cluster, as far as can be known offline.

Rules that hold per engine (published metrics ports, host directories, namespaces) compare these identities,
never the spelling of a host's URL: `ssh://CI@Edge-1.Acme.Test.:22/`, `ssh://edge-1.acme.test` and
`tcp://edge-1.acme.test:2376` are one machine, and every `unix://` socket, `localhost`, `127.0.0.0/8`, `::1` and
`0.0.0.0` are the machine that runs `pulumi`.

Docker rules key on the *machine*, not on the engine: two engines of one machine (a rootful and a rootless
dockerd, or one engine reached over ssh:// and tcp://) still share its file system and its loopback ports, so
user, port, scheme and socket path never split an identity. What cannot be known offline is not guessed: an IP
address and a host name of one machine, an `~/.ssh/config` alias, and the local machine's own name reached over
ssh:// all look like different machines (README, "Hosts and engines"). A single-label name (`edge-1`) may be the
fully qualified one (`edge-1.acme.test`) through the resolver's search domains, so the two count as one.

Kubernetes: a cluster is a kubeconfig (a secret config key, or the local one) and a context; no context means
the kubeconfig's current context, which `kubectl config use-context` can point at any of its contexts, so it may
be any of them. Two kubeconfigs are taken as two clusters (their contents, and so their servers, are secrets).
Docker's URL forms: https://docs.docker.com/engine/security/protect-access/ (ssh as the ssh client connects:
no user is the local user, no port is 22; docker/cli `opts/hosts.go` for tcp:// and unix://).
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
import socket
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

LOCAL = "the machine running pulumi"
"""The machine of every unix:// socket and of every loopback or unspecified address."""
SSH_PORT = 22
"""The ssh client's port when neither the URL nor sshOpts name one."""
RUN_DIRECTORY = ("/var/run/", "/run/")
"""`/var/run` is a link to `/run` on every current Linux distribution (Debian, Ubuntu, Fedora, RHEL, Alpine,
Arch), so `unix:///var/run/docker.sock` and `unix:///run/docker.sock` are one socket."""
_NUMERIC_IPV4 = re.compile(r"(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}")
"""The inet_aton forms the ssh client and the C resolver accept as an IPv4 address: 127.1, 0x7f.0.0.1,
2130706433."""


def _address(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        if not _NUMERIC_IPV4.fullmatch(name):
            return None
        try:
            return ipaddress.IPv4Address(socket.inet_aton(name))
        except OSError:
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _dns_name(name: str) -> str:
    """A host name as DNS compares it: case-folded, NFKC (IDNA's nameprep), without the root's trailing dot."""
    name = unicodedata.normalize("NFKC", name).casefold().rstrip(".")
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:  # not a valid IDNA name: compare the folded text itself
        return name


def machine_of(host: str) -> str:
    """The machine a host name or address names: LOCAL, a canonical address, or a DNS name."""
    name = unquote(host).strip("[]")
    address = _address(name.split("%", 1)[0].lower())
    if address is not None:
        return LOCAL if address.is_loopback or address.is_unspecified else address.compressed
    name = _dns_name(name)
    if name == "localhost" or name.endswith(".localhost"):  # RFC 6761: always the loopback address
        return LOCAL
    return name


def same_machine(a: str, b: str) -> bool:
    """Whether two machines (from `machine_of`) may be one: equal, or a single-label name and a fully qualified
    name that starts with it (`edge-1` and `edge-1.acme.test`: the resolver's search domains join them)."""
    if a == b:
        return True
    short, full = sorted((a, b), key=lambda name: "." in name)
    return _single_label(short) and "." in full and _dns(full) and full.split(".", 1)[0] == short


def machine_groups(machines: Iterable[str]) -> dict[str, str]:
    """Each machine mapped to a key shared by exactly the machines it may be (the closure of `same_machine`): a
    single-label name gathers the fully qualified names that start with it."""
    names = set(machines)
    bare = {name for name in names if _single_label(name)}
    return {name: first if (first := name.split(".", 1)[0]) in bare and _dns(name) else name for name in names}


def _dns(name: str) -> bool:
    return name != LOCAL and _address(name) is None


def _single_label(name: str) -> bool:
    return "." not in name and _dns(name)


@dataclass(frozen=True)
class DockerEngine:
    """One Docker host URL, normalised: the engine it reaches and the machine that engine runs on."""

    endpoint: str
    """The engine: `ssh://[user@]host:port`, `tcp://host:port` or `unix:///path`, in canonical spelling."""
    machine: str
    """The machine (`machine_of`): what the per-engine rules compare."""


def _socket_path(path: str) -> str:
    norm = posixpath.normpath("/" + path.lstrip("/"))
    norm = "/" + norm.lstrip("/")  # POSIX keeps a leading `//`; the kernel does not
    return RUN_DIRECTORY[1] + norm[len(RUN_DIRECTORY[0]) :] if norm.startswith(RUN_DIRECTORY[0]) else norm


def docker_engine(url: str) -> DockerEngine:
    """The identity of a Docker host URL (checked by `spec.hosts`; anything else is compared as written)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return DockerEngine(url, url)
    scheme = parts.scheme.lower()
    if scheme == "unix":
        return DockerEngine(f"unix://{_socket_path(parts.path)}", LOCAL)
    machine = machine_of(parts.hostname or "")
    shown = parts.hostname or ""
    address = _address(unquote(shown).strip("[]").split("%", 1)[0].lower())
    if address is not None:
        shown = f"[{address.compressed}]" if address.version == 6 else address.compressed
    else:
        shown = _dns_name(unquote(shown))
    if scheme == "ssh":
        user = f"{unquote(parts.username)}@" if parts.username else ""  # no user: ssh's own (the local user)
        return DockerEngine(f"ssh://{user}{shown}:{port or SSH_PORT}", machine)
    return DockerEngine(f"{scheme}://{shown}:{port}", machine)  # tcp:// always names its port (spec.hosts)


@dataclass(frozen=True)
class Cluster:
    """A Kubernetes cluster as a stack names it: a kubeconfig and a context."""

    kubeconfig: str | None
    """The secret config key holding the kubeconfig; None for the local kubeconfig."""
    context: str | None
    """The context; None for the kubeconfig's current one."""

    def may_be(self, other: Cluster) -> bool:
        """Whether both may reach one cluster: one kubeconfig, and one context or an unnamed (current) one."""
        return self.kubeconfig == other.kubeconfig and (
            self.context is None or other.context is None or self.context == other.context
        )

    def __str__(self) -> str:
        # The kubeconfig's config key is not shown: a careless stack may have pasted the contents there.
        context = f"context {self.context!r}" if self.context is not None else "the current context"
        return f"{context} of {'that' if self.kubeconfig is not None else 'the local'} kubeconfig"
