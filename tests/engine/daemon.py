"""A private dockerd for the lane, and a minimal Engine API client (HTTP over its unix socket, Python's stdlib).

The daemon runs in its own network and mount namespaces (`unshare`): its bridge, published ports and
`/run/docker.sock` are its own, so it collides with nothing on the machine (another daemon, a port in use) and a
bind mount of `/var/run/docker.sock` (the manager's) finds the private daemon's socket, as it finds the host
engine's socket on a real Docker host. The daemon has default log options (json-file with max-size, compress,
labels) so that the engine's merge of its defaults into a container's log options is exercised.

The client speaks the Engine API the way the Go client the provider uses does: the API version is negotiated
against the daemon's `/_ping` (`WithAPIVersionNegotiation`, client maximum 1.51 in docker/docker v28.5.2, the
version terraform-provider-docker's go.mod pins), and request bodies are JSON.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import io
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

CLIENT_API_VERSION = "1.51"  # api.DefaultVersion of github.com/docker/docker v28.5.2
DAEMON_LOG_OPTS = {"max-size": "10m", "max-file": "3", "compress": "true", "labels": "runner-fleet.io/role"}
START_TIMEOUT = 30.0
PACKAGES = {"dockerd": "docker.io", "busybox": "busybox-static"}


class EngineError(RuntimeError):
    def __init__(self, status: int, method: str, path: str, message: str) -> None:
        super().__init__(f"{method} {path}: HTTP {status}: {message}")
        self.status = status


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = str(path)

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in version.split("."))


class Engine:
    """Engine API calls on one daemon's socket."""

    def __init__(self, sock: Path) -> None:
        self.sock = sock
        server = self._raw("GET", "/_ping")[1].get("api-version", "1.24")
        self.version = min(CLIENT_API_VERSION, server, key=_version_tuple)

    def _raw(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        content_type: str = "application/json",
        timeout: float = 60.0,
    ) -> tuple[int, dict[str, str], bytes]:
        conn = _UnixConnection(self.sock, timeout)
        try:
            headers = {"Content-Type": content_type} if body is not None else {}
            conn.request(method, url, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()

    def call(
        self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None, timeout: float = 60.0
    ) -> bytes:
        """One request (a `bytes` body is sent as a tar archive, anything else as JSON); the raw response body.
        Raises EngineError on an error status."""
        url = f"/v{self.version}{path}" + (f"?{urlencode(query)}" if query else "")
        if isinstance(body, bytes):
            status, _, data = self._raw(method, url, body, "application/x-tar", timeout)
        else:
            payload = None if body is None else json.dumps(body).encode()
            status, _, data = self._raw(method, url, payload, timeout=timeout)
        if status >= 400:
            try:
                message = json.loads(data).get("message", data.decode())
            except ValueError:
                message = data.decode(errors="replace")
            raise EngineError(status, method, path, message)
        return data

    def json(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None) -> Any:
        data = self.call(method, path, body, query)
        return json.loads(data) if data.strip() else None

    def inspect(self, container: str) -> dict[str, Any]:
        result: dict[str, Any] = self.json("GET", f"/containers/{quote(container)}/json")
        return result

    def logs(self, container: str) -> str:
        """stdout and stderr of a container (demultiplexed: the stream has 8-byte frame headers without a TTY)."""
        data = self.call("GET", f"/containers/{quote(container)}/logs", query={"stdout": 1, "stderr": 1})
        return _demux(data)

    def file(self, container: str, path: str) -> str:
        """A file's content from a container (running or not), through the archive endpoint."""
        data = self.call("GET", f"/containers/{quote(container)}/archive", query={"path": path})
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            member = archive.next()
            assert member is not None, path
            handle = archive.extractfile(member)
            assert handle is not None, path
            return handle.read().decode()

    def file_mode(self, container: str, path: str) -> int:
        """A file's permission bits, from the archive endpoint's stat header."""
        url = f"/v{self.version}/containers/{quote(container)}/archive?{urlencode({'path': path})}"
        status, headers, _ = self._raw("HEAD", url)
        if status >= 400:
            raise EngineError(status, "HEAD", path, "no such file")
        stat = json.loads(base64.b64decode(headers["x-docker-container-path-stat"]))
        return int(stat["mode"]) & 0o7777

    def wait(self, container: str) -> int:
        """The container's exit code, once it has exited."""
        return int(json.loads(self.call("POST", f"/containers/{quote(container)}/wait"))["StatusCode"])

    def remove_everything(self) -> None:
        """Every container, volume and user network on the daemon (between fleets)."""
        for c in self.json("GET", "/containers/json", query={"all": 1}) or []:
            self.call("DELETE", f"/containers/{c['Id']}", query={"force": 1, "v": 1})
        for v in (self.json("GET", "/volumes") or {}).get("Volumes") or []:
            self.call("DELETE", f"/volumes/{quote(v['Name'])}", query={"force": 1})
        for n in self.json("GET", "/networks") or []:
            if n["Name"] not in ("bridge", "host", "none"):
                self.call("DELETE", f"/networks/{n['Id']}")


def _demux(data: bytes) -> str:
    out, i = [], 0
    while i + 8 <= len(data):
        size = struct.unpack(">I", data[i + 4 : i + 8])[0]
        out.append(data[i + 8 : i + 8 + size])
        i += 8 + size
    return b"".join(out).decode(errors="replace")


def _installed(package: str) -> bool:
    """Whether dpkg has `package` installed: Debian's dynamic `busybox` also puts a busybox on the PATH, but the
    stand-in rootfs needs the static one (no loader or libraries in it)."""
    done = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False)
    return done.stdout.strip() == "install ok installed"


def ensure_installed() -> None:
    """Debian's docker.io and busybox-static, installed with apt when missing (needs root)."""
    missing = sorted({pkg for tool, pkg in PACKAGES.items() if shutil.which(tool) is None or not _installed(pkg)})
    if not missing:
        return
    if os.geteuid() != 0:
        raise RuntimeError(f"the engine lane needs {', '.join(missing)} (apt) and root to install and run dockerd")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env)


@contextlib.contextmanager
def private_dockerd() -> Iterator[Engine]:
    """A dockerd with its own data root, exec root, socket, network and mount namespace; stopped and its
    directory removed at the end, even on failure. Raises (never skips) when it cannot start."""
    if os.geteuid() != 0:
        raise RuntimeError("the engine lane runs dockerd and needs root")
    ensure_installed()
    root = Path(tempfile.mkdtemp(prefix="runner-fleet-engine."))
    sock, pidfile, log = root / "docker.sock", root / "dockerd.pid", root / "dockerd.log"
    (root / "daemon.json").write_text(json.dumps({"log-driver": "json-file", "log-opts": DAEMON_LOG_OPTS}))
    # In the daemon's own namespaces: loopback up (published ports bind 127.0.0.1), a private /run (so
    # /var/run/docker.sock is this daemon's and no system containerd is picked up).
    script = (
        "set -e; ip link set lo up; mount --make-rprivate /; mount -t tmpfs -o mode=0755 runner-fleet-engine /run; "
        f'exec dockerd --config-file "{root}/daemon.json" --data-root "{root}/data" --exec-root "{root}/exec" '
        f'--pidfile "{pidfile}" -H "unix://{sock}" -H unix:///run/docker.sock --iptables=false --ip-masq=false'
    )
    with log.open("wb") as out:
        process = subprocess.Popen(["unshare", "--net", "--mount", "--", "sh", "-c", script], stdout=out, stderr=out)
    try:
        engine = _wait_for(sock, process, log)
        yield engine
    finally:
        _stop(process, root)


def _wait_for(sock: Path, process: subprocess.Popen[bytes], log: Path) -> Engine:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dockerd exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        if sock.exists():
            with contextlib.suppress(OSError, EngineError):
                return Engine(sock)
        time.sleep(0.1)
    raise RuntimeError(f"dockerd did not answer on {sock} within {START_TIMEOUT:.0f} s:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen[bytes], root: Path) -> None:
    if process.poll() is None:
        with contextlib.suppress(OSError, EngineError, RuntimeError):
            Engine(root / "docker.sock").remove_everything()  # no container (and shim) outlives the daemon
        process.send_signal(signal.SIGTERM)  # `exec`: the process is dockerd itself
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    # The daemon's mounts lived in its own mount namespace, gone with it; what is left are plain files.
    shutil.rmtree(root, ignore_errors=True)
