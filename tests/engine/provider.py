"""The docker provider's Create and Read for what runner-fleet declares, against a real dockerd.

Emulates terraform-provider-docker (kreuzwerker, HEAD 83c00e0b of 2026-07-22, read because pulumi-docker 5.2.0
bundles an upstream newer than v4.5.0 whose exact commit could not be confirmed): `internal/provider/`
`resource_docker_container_funcs.go` (Create, Read, Delete), `resource_docker_container_structures.go`,
`resource_docker_volume.go`, `resource_docker_network_funcs.go`; and the Go client it pins (docker/docker
v28.5.2, `client/container_create.go`: capabilities upper-cased, `CAP_`-prefixed, de-duplicated and sorted before
sending; `client/network_create.go`: CheckDuplicate below API 1.44). Requests go straight to the Engine API with
the fields those functions set (not through the docker CLI, whose own defaults and parsing differ). Fields the Go
structs send as zero values (`"Hostname": ""`, `"Memory": 0`...) are left out: the daemon reads absent and zero
alike.

Positive model: only the inputs listed in the tables below are emulated; a plan that declares any other input
fails with a message naming it, instead of being created differently from the provider.

`declared(...)` turns a plan's SDK inputs into Terraform attributes (pulumi-docker's bridge renames, e.g.
`capabilities.drops` -> `capabilities.drop`, `entrypoints` -> `entrypoint`, `uploads` -> `upload`); `read_*`
returns the attributes each Read sets, as it sets them.
"""

from __future__ import annotations

import io
import re
import tarfile
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from tests.engine.daemon import Engine, EngineError

# SDK input -> Terraform attribute, for every input this emulation creates as the provider does.
CONTAINER_INPUTS = {
    "name": "name",
    "image": "image",
    "start": "start",
    "mustRun": "must_run",
    "restart": "restart",
    "volumes": "volumes",
    "uploads": "upload",
    "labels": "labels",
    "mounts": "mounts",
    "networksAdvanced": "networks_advanced",
    "networkMode": "network_mode",
    "ports": "ports",
    "privileged": "privileged",
    "readOnly": "read_only",
    "securityOpts": "security_opts",
    "capabilities": "capabilities",
    "envs": "env",
    "entrypoints": "entrypoint",
    "command": "command",
    "user": "user",
    "workingDir": "working_dir",
    "pidMode": "pid_mode",
    "stopSignal": "stop_signal",
    "stopTimeout": "stop_timeout",
    "destroyGraceSeconds": "destroy_grace_seconds",
    "logDriver": "log_driver",
    "logOpts": "log_opts",
    "healthcheck": "healthcheck",
    "wait": "wait",
    "waitTimeout": "wait_timeout",
}
VOLUME_INPUTS = {"name": "name", "labels": "labels", "driver": "driver", "driverOpts": "driver_opts"}
NETWORK_INPUTS = {"name": "name", "labels": "labels", "driver": "driver", "options": "options", "internal": "internal"}
NESTED_RENAMES = {
    "adds": "add",
    "drops": "drop",
    "tests": "test",
}  # bridge renames inside blocks; the rest is camelCase -> snake


@dataclass(frozen=True)
class Attr:
    """A Terraform attribute as the comparison needs it (from the provider's schema)."""

    kind: str  # str, int, bool, list, set, map, blocks (a set of blocks), blocklist (an ordered list of blocks)
    computed: bool = False
    default: Any = None
    suppress_empty: bool = False  # DiffSuppressFunc: a declared "" is a no-op (user, working_dir)
    nested_defaults: tuple[tuple[str, Any], ...] = ()
    nested_computed: tuple[str, ...] = ()  # Optional+Computed fields of a block: absent from config, no diff


# Every attribute the container's Read sets, with its schema flags (resource_docker_container.go).
CONTAINER_READ = {
    "name": Attr("str", computed=True),  # auto-named by the bridge when not declared
    "rm": Attr("bool", default=False),
    "read_only": Attr("bool", default=False),
    "must_run": Attr("bool", default=True),
    "image": Attr("str"),
    "hostname": Attr("str", computed=True),
    "domainname": Attr("str"),
    "command": Attr("list", computed=True),
    "entrypoint": Attr("list", computed=True),
    "user": Attr("str", suppress_empty=True),
    "dns": Attr("set"),
    "dns_opts": Attr("set"),
    "security_opts": Attr("set", computed=True),
    "dns_search": Attr("set"),
    "publish_all_ports": Attr("bool"),
    "restart": Attr("str", default="no"),
    "max_retry_count": Attr("int"),
    "init": Attr("bool", computed=True),
    "working_dir": Attr("str", suppress_empty=True),
    "capabilities": Attr("blocks"),
    "runtime": Attr("str", computed=True),
    "platform": Attr("str", computed=True),
    "mounts": Attr("blocks"),
    "tmpfs": Attr("map"),
    "host": Attr("blocks"),
    "privileged": Attr("bool"),
    # `external` is Optional+Computed ("a free random port >= 32768" when not given): SDKv2 plans no change for a
    # computed attribute the configuration leaves out, whatever Read stored.
    "ports": Attr("blocklist", nested_defaults=(("ip", "0.0.0.0"), ("protocol", "tcp")), nested_computed=("external",)),
    "device_read_bps": Attr("blocks"),
    "device_read_iops": Attr("blocks"),
    "device_write_bps": Attr("blocks"),
    "device_write_iops": Attr("blocks"),
    "memory": Attr("int"),
    "memory_reservation": Attr("int", default=0),
    "memory_swap": Attr("int"),
    "shm_size": Attr("int", computed=True),
    "cpu_shares": Attr("int"),
    "cpu_set": Attr("str"),
    "log_driver": Attr("str", computed=True),
    "log_opts": Attr("map"),
    "storage_opts": Attr("map"),
    "network_mode": Attr("str", default="bridge"),
    "pid_mode": Attr("str"),
    "userns_mode": Attr("str"),
    "healthcheck": Attr("blocklist", computed=True),
    "sysctls": Attr("map"),
    "ipc_mode": Attr("str", computed=True),
    "group_add": Attr("set"),
    "tty": Attr("bool", default=False),
    "stdin_open": Attr("bool", default=False),
    "stop_signal": Attr("str", computed=True),
    "stop_timeout": Attr("int", computed=True),
}
VOLUME_READ = {
    "name": Attr("str", computed=True),
    "labels": Attr("blocks"),
    "driver": Attr("str", computed=True),
    "driver_opts": Attr("map"),
}
NETWORK_READ = {
    "name": Attr("str"),
    "labels": Attr("blocks"),
    "driver": Attr("str", computed=True),
    "internal": Attr("bool", computed=True),
    "attachable": Attr("bool"),
    "ingress": Attr("bool"),
    "ipv6": Attr("bool"),
    "ipam_driver": Attr("str", default="default"),
    "ipam_options": Attr("map"),
    "options": Attr("map", computed=True),
    "ipam_config": Attr("blocks", computed=True),
}


# Resource type -> (the inputs emulated, the attributes Read sets).
SCHEMAS = {
    "docker:index/container:Container": (CONTAINER_INPUTS, CONTAINER_READ),
    "docker:index/volume:Volume": (VOLUME_INPUTS, VOLUME_READ),
    "docker:index/network:Network": (NETWORK_INPUTS, NETWORK_READ),
}


class NotEmulated(ValueError):
    """The plan declares an input this emulation does not create as the provider does."""


def _snake(name: str) -> str:
    return NESTED_RENAMES.get(name) or re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _tf_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {_snake(k): _tf_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_tf_value(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the engine's wire form of numbers; the schema's are integers
    return value


def declared(resource: str, inputs: dict[str, Any], table: dict[str, str]) -> dict[str, Any]:
    """The Terraform attributes a resource's SDK inputs set; NotEmulated for an input outside `table`."""
    unknown = sorted(set(inputs) - set(table))
    if unknown:
        raise NotEmulated(f"{resource}: the engine lane does not emulate the provider for input(s) {unknown}")
    out = {table[k]: _tf_value(v) for k, v in inputs.items()}
    for block in ("capabilities", "healthcheck"):
        if isinstance(out.get(block), dict):
            out[block] = [out[block]]  # a block (MaxItems 1) in Terraform, an object in the SDK
    return out


def _get_ok(d: dict[str, Any], key: str) -> Any:
    """ResourceData.GetOk: the value when set to something other than its zero value, else None."""
    value = d.get(key)
    return value if value not in (None, "", 0, False, [], {}) else None


def _normalize_capabilities(caps: list[str] | None) -> list[str] | None:
    """client/container_create.go normalizeCapabilities (docker/docker v28.5.2)."""
    if not caps:
        return None
    out = {c.upper() if c.upper() == "ALL" or c.upper().startswith("CAP_") else "CAP_" + c.upper() for c in caps}
    return sorted(out)


def _labels(blocks: list[dict[str, str]] | None) -> dict[str, str] | None:
    return {b["label"]: b["value"] for b in blocks} if blocks else None


def _ports(ports: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """portSetToDockerPorts."""
    exposed: dict[str, Any] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for port in ports:
        key = f"{port['internal']}/{port.get('protocol') or 'tcp'}"
        exposed[key] = {}
        binding = {"HostIp": port.get("ip") or "0.0.0.0", "HostPort": str(port.get("external") or 0)}
        bindings.setdefault(key, []).append(binding)
    return exposed, bindings


def _volumes(volumes: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str], list[str]]:
    """volumeSetToDockerVolumes."""
    paths: dict[str, Any] = {}
    binds: list[str] = []
    froms: list[str] = []
    for v in volumes:
        source = v.get("host_path") or v.get("volume_name") or ""
        if v.get("from_container"):
            froms.append(v["from_container"])
            continue
        paths[v["container_path"]] = {}
        if source:
            mode = ("ro" if v.get("read_only") else "rw") + (
                f",{v['selinux_relabel']}" if v.get("selinux_relabel") else ""
            )
            binds.append(f"{source}:{v['container_path']}:{mode}")
    return paths, binds, froms


def _mounts(mounts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for m in mounts:
        if m.get("bind_options") or m.get("volume_options") or m.get("tmpfs_options"):
            raise NotEmulated(f"mount options {m}")
        out.append(
            {
                "Type": m["type"],
                "Target": m["target"],
                "Source": m.get("source", ""),
                "ReadOnly": bool(m.get("read_only")),
            }
        )
    return out


def _present(pairs: dict[str, Any]) -> dict[str, Any]:
    """The fields the Go structs leave out when zero (`omitempty`) or that the provider sets only under GetOk."""
    return {k: v for k, v in pairs.items() if v not in (None, "", 0, False, [], {})}


def _config(d: dict[str, Any]) -> dict[str, Any]:
    """container.Config as resourceDockerContainerCreate fills it."""
    exposed, _ = _ports(d.get("ports") or [])
    paths, _, _ = _volumes(d.get("volumes") or [])
    return {
        "Image": d["image"],
        "Hostname": d.get("hostname", ""),
        "Domainname": d.get("domainname", ""),
        "Tty": bool(d.get("tty")),
        "OpenStdin": bool(d.get("stdin_open")),
    } | _present(
        {
            "StopSignal": d.get("stop_signal"),
            "StopTimeout": d.get("stop_timeout"),
            "Env": d.get("env"),
            "Cmd": d.get("command"),
            "Entrypoint": d.get("entrypoint"),
            "User": d.get("user"),
            "WorkingDir": d.get("working_dir"),
            "ExposedPorts": exposed,
            "Volumes": paths,
            "Labels": _labels(d.get("labels")),
            "Healthcheck": _healthcheck(d.get("healthcheck")),
        }
    )


_GO_UNITS = {"h": 3600 * 10**9, "m": 60 * 10**9, "s": 10**9, "ms": 10**6}


def _nanoseconds(text: str) -> int:
    """time.ParseDuration for the forms a healthcheck uses (`10s`, `5m0s`, `500ms`); errors ignored as Create does."""
    return sum(int(n) * _GO_UNITS[u] for n, u in re.findall(r"(\d+)(ms|h|m|s)", text or ""))


def go_duration(ns: int) -> str:
    """time.Duration.String() for whole seconds and above: `0s`, `10s`, `5m0s`, `1h0m0s`."""
    seconds = ns // 10**9
    if seconds == 0:
        return "0s"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return (f"{hours}h" if hours else "") + (f"{minutes}m" if hours or minutes else "") + f"{secs}s"


def _healthcheck(blocks: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """The HealthConfig resourceDockerContainerCreate builds from the `healthcheck` block."""
    if not blocks:
        return None
    h = blocks[0]
    config = {
        "Test": h.get("test"),
        "Interval": _nanoseconds(h.get("interval", "0s")),
        "Timeout": _nanoseconds(h.get("timeout", "0s")),
        "StartPeriod": _nanoseconds(h.get("start_period", "0s")),
        "Retries": int(h.get("retries") or 0),
    }
    if _nanoseconds(h.get("start_interval", "0s")):
        raise NotEmulated("healthcheck.start_interval (API >= 1.44)")
    return config


def _security_opts(opts: list[str] | None) -> dict[str, Any]:
    """parseSystemPaths: `systempaths=unconfined` is handled client-side (empty masked and read-only paths)."""
    if not opts:
        return {}
    out: dict[str, Any] = {"SecurityOpt": [o for o in opts if o != "systempaths=unconfined"]}
    if "systempaths=unconfined" in opts:
        out["MaskedPaths"], out["ReadonlyPaths"] = [], []
    return out


def _host_config(d: dict[str, Any]) -> dict[str, Any]:
    """container.HostConfig as resourceDockerContainerCreate fills it, after the Go client's rewrites."""
    _, bindings = _ports(d.get("ports") or [])
    _, binds, froms = _volumes(d.get("volumes") or [])
    caps = (d.get("capabilities") or [{}])[0]
    log = {"Type": d.get("log_driver", "")} | _present({"Config": d.get("log_opts")})
    return (
        {
            "Privileged": bool(d.get("privileged")),
            "PublishAllPorts": bool(d.get("publish_all_ports")),
            "RestartPolicy": {"Name": d.get("restart", "no"), "MaximumRetryCount": d.get("max_retry_count", 0)},
            "Mounts": _mounts(d.get("mounts") or []),
            "AutoRemove": False,
            "ReadonlyRootfs": bool(d.get("read_only")),
            "LogConfig": log,
            "Init": False,  # hostConfig.Init = &init, always sent
            "NetworkMode": d.get("network_mode", "bridge"),  # schema Default "bridge", so GetOk always holds
        }
        | _present(
            {
                "PortBindings": bindings,
                "Binds": binds,
                "VolumesFrom": froms,
                "CapAdd": _normalize_capabilities(caps.get("add")),
                "CapDrop": _normalize_capabilities(caps.get("drop")),
                "PidMode": d.get("pid_mode"),
            }
        )
        | _security_opts(d.get("security_opts"))
    )


def container_body(d: dict[str, Any]) -> dict[str, Any]:
    """The create request resourceDockerContainerCreate sends."""
    return _config(d) | {"HostConfig": _host_config(d), "NetworkingConfig": {}}


def _upload_tar(upload: dict[str, Any]) -> bytes:
    """One upload as the provider packs it: a single tar entry at the file's path, mode from `permissions`
    (else 0744 when executable, else 0644), then CopyToContainer at "/"."""
    content = upload.get("content", "").encode()
    if upload.get("content_base64") or upload.get("source"):
        raise NotEmulated("uploads other than `content`")
    mode = (
        int(upload["permissions"], 8) if upload.get("permissions") else (0o744 if upload.get("executable") else 0o644)
    )
    info = tarfile.TarInfo(upload["file"])
    info.mode, info.size, info.mtime = mode, len(content), int(time.time())
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as archive:
        archive.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def create_container(engine: Engine, d: dict[str, Any], *, wait: bool = True) -> str:
    """resourceDockerContainerCreate: create, join networks_advanced, upload, start, and with `wait` wait until the
    container is healthy. Returns the id. `wait=False` skips only the waiting (it changes nothing the engine
    stores), for tests that read back what was stored and not how long a start takes."""
    created = engine.json("POST", "/containers/create", container_body(d), {"name": d.get("name", "")})
    cid: str = created["Id"]
    if d.get("networks_advanced"):
        try:
            engine.call("POST", "/networks/bridge/disconnect", {"Container": cid, "Force": False})
        except EngineError as err:
            if "is not connected to the network bridge" not in str(err):
                raise
        for net in d["networks_advanced"]:
            endpoint = {"Aliases": net.get("aliases"), "IPAMConfig": {}}
            engine.call(
                "POST", f"/networks/{quote(net['name'])}/connect", {"Container": cid, "EndpointConfig": endpoint}
            )
    for upload in d.get("upload") or []:
        engine.call("PUT", f"/containers/{cid}/archive", _upload_tar(upload), {"path": "/"})
    if d.get("start", True):
        engine.call("POST", f"/containers/{cid}/start")
        if wait and d.get("wait"):
            _wait_healthy(engine, cid, int(d.get("wait_timeout", 60)))
    return cid


class NotHealthy(RuntimeError):
    """The provider's errContainerFailedToBeInHealthyState: the create fails, so does the run."""


def _wait_healthy(engine: Engine, cid: str, timeout: int) -> None:
    """waitForHealthyState: inspect every second until Health.Status is healthy, within wait_timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        health = (engine.inspect(cid).get("State") or {}).get("Health")
        if health is None:
            raise NotHealthy("you have supplied a 'wait' argument, but the container does not have a healthcheck")
        if health.get("Status") == "healthy":
            return
        time.sleep(1)
    raise NotHealthy("container failed to be in healthy state")


def stop_as_delete(engine: Engine, cid: str, d: dict[str, Any]) -> dict[str, Any]:
    """The first half of resourceDockerContainerDelete: ContainerStop with timeout = destroy_grace_seconds (0 when
    unset: the stop signal, then SIGKILL at once). Returns the state the stop left; the provider then removes the
    container with force (Engine.remove_everything here)."""
    grace = int(d.get("destroy_grace_seconds") or 0)
    engine.call("POST", f"/containers/{cid}/stop", query={"t": grace}, timeout=grace + 60)
    state: dict[str, Any] = engine.inspect(cid)["State"]
    return state


def _flatten_ports(ports: dict[str, Any] | None) -> list[dict[str, Any]]:
    def order(key: str) -> tuple[int, str]:
        number, proto = key.split("/")
        return int(number), proto

    out = []
    for key in sorted(ports or {}, key=order):
        number, proto = key.split("/")
        for b in ports[key] or []:  # type: ignore[index]
            out.append(
                {"internal": int(number), "external": int(b["HostPort"] or 0), "ip": b["HostIp"], "protocol": proto}
            )
    return out


def _mounts_read(mounts: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """getDockerContainerMounts."""
    out = []
    for m in mounts or []:
        item: dict[str, Any] = {
            "target": m["Target"],
            "source": m.get("Source", ""),
            "type": m["Type"],
            "read_only": bool(m.get("ReadOnly")),
        }
        if m.get("BindOptions") is not None:
            item["bind_options"] = [{"propagation": m["BindOptions"].get("Propagation", "")}]
        if m.get("VolumeOptions") is not None or m.get("TmpfsOptions") is not None:
            raise NotEmulated(f"reading mount options {m}")
        out.append(item)
    return out


def _map_labels(labels: dict[str, str] | None) -> list[dict[str, str]]:
    return [{"label": k, "value": v} for k, v in sorted((labels or {}).items())]


def read_container(engine: Engine, cid: str, d: dict[str, Any]) -> dict[str, Any]:
    """The attributes resourceDockerContainerRead sets (only those; `volumes`, `labels`, `env`, `upload`,
    `networks_advanced` of a managed container, `destroy_grace_seconds` are never read)."""
    c = engine.inspect(cid)
    hc, cfg, state = c["HostConfig"], c["Config"], c["State"]
    out: dict[str, Any] = {}
    if (state["Running"] or d.get("must_run", True)) and _get_ok(d, "ports") is not None:
        out["ports"] = _flatten_ports(c["NetworkSettings"].get("Ports"))
    if not state["Running"] and d.get("must_run", True):
        out["must_run"] = False  # a stopped container that must run: an update on the next `up`
    out |= {
        "name": c["Name"].lstrip("/"),
        "rm": hc["AutoRemove"],
        "read_only": hc["ReadonlyRootfs"],
        "image": c["Image"] if str(d.get("image", "")).startswith("sha256:") else cfg["Image"],
        "hostname": cfg["Hostname"],
        "domainname": cfg["Domainname"],
        "command": cfg.get("Cmd"),
        "entrypoint": cfg.get("Entrypoint"),
        "user": cfg["User"],
        "dns": hc.get("Dns"),
        "dns_opts": hc.get("DnsOptions"),
        "security_opts": hc.get("SecurityOpt"),
        "dns_search": hc.get("DnsSearch"),
        "publish_all_ports": hc["PublishAllPorts"],
        "restart": hc["RestartPolicy"]["Name"],
        "max_retry_count": hc["RestartPolicy"]["MaximumRetryCount"],
        "init": bool(hc.get("Init")),
        "working_dir": cfg["WorkingDir"],
        "runtime": hc.get("Runtime"),
        "platform": c.get("Platform"),
        "mounts": _mounts_read(hc.get("Mounts")),
        "tmpfs": hc.get("Tmpfs"),
        "host": [{"host": h.split(":", 1)[0], "ip": h.split(":", 1)[1]} for h in hc.get("ExtraHosts") or []],
        "privileged": hc["Privileged"],
        "device_read_bps": hc.get("BlkioDeviceReadBps") or [],
        "device_read_iops": hc.get("BlkioDeviceReadIOps") or [],
        "device_write_bps": hc.get("BlkioDeviceWriteBps") or [],
        "device_write_iops": hc.get("BlkioDeviceWriteIOps") or [],
        "memory": hc["Memory"] // 1024 // 1024,
        "memory_reservation": hc["MemoryReservation"] // 1024 // 1024,
        "memory_swap": hc["MemorySwap"] // 1024 // 1024 if hc["MemorySwap"] > 0 else hc["MemorySwap"],
        "shm_size": hc["ShmSize"] // 1024 // 1024,
        "cpu_shares": hc["CpuShares"],
        "cpu_set": hc["CpusetCpus"],
        "log_driver": hc["LogConfig"]["Type"],
        "log_opts": hc["LogConfig"].get("Config") if _get_ok(d, "log_opts") is not None else None,
        "storage_opts": hc.get("StorageOpt"),
        "network_mode": hc["NetworkMode"],
        "userns_mode": hc["UsernsMode"],
        "sysctls": hc.get("Sysctls"),
        "ipc_mode": hc["IpcMode"],
        "group_add": hc.get("GroupAdd"),
        "tty": cfg["Tty"],
        "stdin_open": cfg["OpenStdin"],
        "stop_signal": cfg.get("StopSignal", ""),
        "stop_timeout": cfg.get("StopTimeout"),
    }
    if hc.get("CapAdd") or hc.get("CapDrop"):
        out["capabilities"] = [{"add": hc.get("CapAdd") or [], "drop": hc.get("CapDrop") or []}]
    if _get_ok(d, "pid_mode") is not None:
        out["pid_mode"] = hc["PidMode"]
    if cfg.get("Healthcheck") is not None:
        h = cfg["Healthcheck"]
        out["healthcheck"] = [
            {
                "test": h.get("Test"),
                "interval": go_duration(h.get("Interval", 0)),
                "timeout": go_duration(h.get("Timeout", 0)),
                "start_period": go_duration(h.get("StartPeriod", 0)),
                "start_interval": go_duration(h.get("StartInterval", 0)),
                "retries": h.get("Retries", 0),
            }
        ]
    return out


def create_volume(engine: Engine, d: dict[str, Any]) -> str:
    """resourceDockerVolumeCreate (VolumeCreate sends the options as they are)."""
    body = {"Name": d.get("name", ""), "Labels": _labels(d.get("labels")), "Driver": d.get("driver", "")}
    if d.get("driver_opts"):
        body["DriverOpts"] = d["driver_opts"]
    name: str = engine.json("POST", "/volumes/create", body)["Name"]
    return name


def read_volume(engine: Engine, name: str) -> dict[str, Any]:
    v = engine.json("GET", f"/volumes/{quote(name)}")
    return {
        "name": v["Name"],
        "labels": _map_labels(v.get("Labels")),
        "driver": v["Driver"],
        "driver_opts": v.get("Options"),
    }


def create_network(engine: Engine, d: dict[str, Any]) -> str:
    """resourceDockerNetworkCreate; `ipam_driver` has the schema default "default", so IPAM is always sent."""
    body: dict[str, Any] = {
        "Name": d["name"],
        "Labels": _labels(d.get("labels")),
        "Driver": d.get("driver", ""),
        "Internal": bool(d.get("internal")),
        "Attachable": False,
        "Ingress": False,
        "IPAM": {"Driver": "default"},
    }
    if d.get("options"):
        body["Options"] = d["options"]
    if tuple(int(x) for x in engine.version.split(".")) < (1, 44):
        body["CheckDuplicate"] = True
    nid: str = engine.json("POST", "/networks/create", body)["Id"]
    return nid


def read_network(engine: Engine, nid: str) -> dict[str, Any]:
    n = engine.json("GET", f"/networks/{nid}")
    ipam = n.get("IPAM") or {}
    return {
        "name": n["Name"],
        "labels": _map_labels(n.get("Labels")),
        "driver": n["Driver"],
        "internal": n["Internal"],
        "attachable": n["Attachable"],
        "ingress": n["Ingress"],
        "ipv6": n["EnableIPv6"],
        "ipam_driver": ipam.get("Driver"),
        "ipam_options": ipam.get("Options"),
        "options": n.get("Options"),
        "ipam_config": ipam.get("Config") or [],
    }
