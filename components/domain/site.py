"""The company network the fleet lives in: a private CA, proxies, a registry mirror (part of the model).

Frozen, every default here, nothing read or declared; the spec builds these from `gitlabCaBundle`,
`hosts.<h>.proxy` and `registryMirror`, the renderers turn them into config.toml keys, files and environment.
What the stack file may say about each is checked in `components/spec/site_keys.py`.
- Self-signed / private CA: https://docs.gitlab.com/runner/configuration/tls-self-signed/
- Proxy: https://docs.gitlab.com/runner/configuration/proxy/
- Helper image: https://docs.gitlab.com/runner/configuration/advanced-configuration/#helper-image
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

CA_DIR = "/etc/gitlab-runner/certs"
"""Where job containers (helper, build, services) find the CA: the helper image's entrypoint adds
`CA_DIR/ca.crt` to its trust store on start, and build jobs point their tools at it."""
CA_FILE = "ca.crt"
"""The CA bundle's file name, in the manager's certs directory and in the jobs' CA_DIR."""

MAX_CA_BUNDLE = 256 * 1024
"""Characters a CA bundle may have (a Kubernetes Secret holds at most 1 MiB, config.toml included)."""

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


# --- CA bundles ------------------------------------------------------------------------------------------
# A positive model of what a CA bundle holds: PEM blocks labelled CERTIFICATE, each marker on a line of its own,
# base64 lines in between, nothing else but blank lines; each block decodes to an X.509 v3 certificate (DER:
# SEQUENCE { SEQUENCE { [0] version ... } ...}). The bundle is delivered re-encoded, in canonical PEM, so that what
# reaches gitlab-runner, git and the helper image is exactly what was checked. Messages never repeat the text.

_MARKER = re.compile(r"-----(BEGIN|END) ([A-Z0-9 ]{1,40})-----")
_BASE64_LINE = re.compile(r"[A-Za-z0-9+/]{1,256}={0,2}")
_X509_V3 = b"\xa0\x03\x02\x01\x02"  # [0] EXPLICIT INTEGER 2: the version field of a v3 certificate


class NotCertificates(ValueError):
    """What makes a text no bundle of CA certificates (the message never quotes the text)."""


def _tlv(der: bytes, at: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER element at `at`; ValueError when it is cut short."""
    if at + 2 > len(der):
        raise ValueError("short")
    tag, first = der[at], der[at + 1]
    start = at + 2
    if first & 0x80:
        count = first & 0x7F
        if not 0 < count <= 4 or start + count > len(der):
            raise ValueError("length")
        length, start = int.from_bytes(der[start : start + count], "big"), start + count
    else:
        length = first
    if start + length > len(der):
        raise ValueError("short")
    return tag, start, start + length


def _is_certificate(der: bytes) -> bool:
    """An X.509 v3 certificate: SEQUENCE (all of it) { tbsCertificate SEQUENCE { [0] v3, ... }, algorithm
    SEQUENCE, signature BIT STRING }. A private key (SEQUENCE { INTEGER ... }) is not one."""
    try:
        tag, start, end = _tlv(der, 0)
        if tag != 0x30 or end != len(der):
            return False
        tbs_tag, tbs_start, tbs_end = _tlv(der, start)
        algorithm_tag, _, algorithm_end = _tlv(der, tbs_end)
        signature_tag, _, signature_end = _tlv(der, algorithm_end)
    except ValueError:
        return False
    return (
        tbs_tag == 0x30
        and der[tbs_start : tbs_start + len(_X509_V3)] == _X509_V3
        and algorithm_tag == 0x30
        and signature_tag == 0x03
        and signature_end == end
    )


def _blocks(text: str) -> list[list[str]]:
    """The base64 lines of each CERTIFICATE block; NotCertificates for anything else."""
    blocks: list[list[str]] = []
    current: list[str] | None = None  # the base64 lines of the block being read
    for line in (raw.strip() for raw in text.split("\n")):
        marker = _MARKER.fullmatch(line)
        if marker and marker[2] != "CERTIFICATE":
            kind = "a private key" if "PRIVATE KEY" in marker[2] else f"a {marker[2]} block"
            raise NotCertificates(f"holds {kind}: a CA bundle holds public CA certificates only")
        if current is None and not line:
            continue  # blank lines between blocks
        if current is None and marker and marker[1] == "BEGIN":
            current = []
        elif current is not None and marker and marker[1] == "END":
            blocks.append(current)
            current = None
        elif current is not None and _BASE64_LINE.fullmatch(line):
            current.append(line)
        else:
            raise NotCertificates(
                "expected PEM CA certificates and nothing else: BEGIN CERTIFICATE and END CERTIFICATE markers, "
                "each on a line of its own, base64 lines between them (a file path is not read: the CA travels "
                "with the config)"
            )
    if current is not None or not blocks:
        raise NotCertificates("expected at least one complete PEM certificate (BEGIN ... END CERTIFICATE)")
    return blocks


def canonical_certificates(text: str) -> str:
    """`text` (a bundle of PEM CA certificates) re-encoded as canonical PEM; NotCertificates says what is wrong."""
    if "PRIVATE KEY" in text.upper():
        raise NotCertificates("holds a private key: a CA bundle holds public CA certificates only")
    pem = []
    for number, lines in enumerate(_blocks(text), 1):
        try:
            der = base64.b64decode("".join(lines), validate=True)
        except (binascii.Error, ValueError):
            raise NotCertificates(f"certificate {number} is not valid base64") from None
        if not _is_certificate(der):
            raise NotCertificates(f"certificate {number} is not an X.509 v3 certificate")
        body = base64.b64encode(der).decode()
        wrapped = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
        pem.append(f"-----BEGIN CERTIFICATE-----\n{wrapped}\n-----END CERTIFICATE-----\n")
    return "".join(pem)
