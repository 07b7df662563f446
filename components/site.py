"""The company network the fleet lives in: a private CA, proxies, a registry mirror (part of the model).

Frozen, every default here, nothing read or declared; the spec builds these from `gitlabCaBundle`,
`hosts.<h>.proxy` and `registryMirror`, the renderers turn them into config.toml keys, files and environment.
What the stack file may say about each is checked in `components/spec/site_keys.py`.
- Self-signed / private CA: https://docs.gitlab.com/runner/configuration/tls-self-signed/
- Proxy: https://docs.gitlab.com/runner/configuration/proxy/
- Helper image: https://docs.gitlab.com/runner/configuration/advanced-configuration/#helper-image
"""

from __future__ import annotations

from dataclasses import dataclass

CA_DIR = "/etc/gitlab-runner/certs"
"""Where job containers (helper, build, services) find the CA: the helper image's entrypoint adds
`CA_DIR/ca.crt` to its trust store on start, and build jobs point their tools at it."""
CA_FILE = "ca.crt"
"""The CA bundle's file name, in the manager's certs directory and in the jobs' CA_DIR."""

PROXY_NAMES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")
"""The proxy variables, set in both cases: Go, curl and git read different ones."""


@dataclass(frozen=True)
class CaBundle:
    """The PEM certificates that sign the GitLab instance: written in the stack file, or in a secret config key."""

    pem: str | None = None
    """The certificates as written (public material); None when `secret` names the config key."""
    secret: str | None = None
    """Name of a secret config key holding the certificates; None when written in the stack file."""


@dataclass(frozen=True)
class Proxy:
    """A host's outbound proxy, for its manager and (unless a runner opts out) its jobs. No credentials: a proxy
    URL with a password would reach every job's environment."""

    http: str | None = None
    """Proxy for http:// URLs; none by default."""
    https: str | None = None
    """Proxy for https:// URLs; none by default."""
    no_proxy: tuple[str, ...] = ()
    """Hosts, domains (`.example.com`), IP addresses and CIDR ranges reached directly; none by default."""

    def environment(self, always_direct: tuple[str, ...] = ()) -> tuple[tuple[str, str], ...]:
        """(name, value) pairs, upper and lower case; `always_direct` joins NO_PROXY (cluster-internal names)."""
        direct = ",".join(dict.fromkeys(self.no_proxy + always_direct))
        pairs = [("HTTP_PROXY", self.http), ("HTTPS_PROXY", self.https), ("NO_PROXY", direct or None)]
        found = [(name, value) for name, value in pairs if value]
        return tuple(found + [(name.lower(), value) for name, value in found])
