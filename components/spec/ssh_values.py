"""Values runner-fleet hands to the local `ssh`, `docker` and `kubectl`: each one allow-listed by value.

`hosts.<h>.docker.sshOpts` reaches the ssh client on the machine that runs `pulumi` (the docker provider's
connection helper, `components.ops.doctor`), so it is judged as ssh's own getopt and config-line parser read it:
short flags alone, bundled (`-4C`) or with their value attached (`-p2222`) or apart (`-p 2222`); `-o` with the
config line in the same argument (`-oPort=22`) or the next (`-o Port=22`, `-o "Port 22"`), keyword in any case.
Only the options listed in OPTIONS pass, each with a strict grammar for its value: host names, ports, numbers,
yes/no words, algorithm lists, and file paths without whitespace, quotes, shell metacharacters, `%` tokens or
`${}` variables. Never ProxyCommand, LocalCommand, KnownHostsCommand, Match exec, Include or -F.

Why values matter and not only names: OpenSSH turns ProxyJump (`-J`) into a ProxyCommand string,
`ssh -l <user> -p <port> -J <rest> -W '[%h]:%p' <host>`, spliced without quoting and run through `$SHELL -c`
(openssh-portable ssh.c, "construct a ProxyCommand now"; sshconnect.c runs it with _PATH_BSHELL), and only recent
releases check the jump host for shell metacharacters (readconf.c ssh_valid_hostname). A jump spec is therefore
`[user@]host[:port]` hops joined by ',' and nothing else (no ssh:// form, no '%', no quotes or spaces).
Man pages: https://man.openbsd.org/ssh , https://man.openbsd.org/ssh_config
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

Grammar = Callable[[str], str | None]
"""Checks one option value; returns what is expected when the value does not match, or None."""

_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
HOST_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
USER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,31}")
"""POSIX portable user names (letters, digits, '.', '_', '-'), never starting with '-'."""
FILE_PATH = re.compile(r"(?:~/|/)?[A-Za-z0-9_.+@,][A-Za-z0-9_.+@,/-]{0,1023}")
"""An absolute, ~/ or relative path of plain characters: no whitespace, quotes, shell metacharacters, '%' tokens,
'$' variables or '=', and never starting with '-'."""
ALGORITHMS = re.compile(r"[+^-]?[A-Za-z0-9][A-Za-z0-9@._+-]{0,63}(?:,[A-Za-z0-9][A-Za-z0-9@._+-]{0,63}){0,63}")
NUMBER = re.compile(r"[0-9]{1,6}")
AUTH_METHODS = ("gssapi-with-mic", "hostbased", "publickey", "keyboard-interactive", "password")
LOG_LEVELS = ("quiet", "fatal", "error", "info", "verbose", "debug", "debug1", "debug2", "debug3")


def host_problem(host: str) -> str | None:
    """A DNS name or an IP address (IPv6 in brackets where a port may follow is the caller's business)."""
    try:
        ipaddress.ip_address(host)
        return None if "%" not in host else "an IP address without a zone (%)"
    except ValueError:
        pass
    if HOST_NAME.fullmatch(host) and not host.startswith("-") and len(host) <= 253:
        return None
    return "a host name (letters, digits, '-', '_' and dots) or an IP address"


def port_problem(port: str) -> str | None:
    if NUMBER.fullmatch(port) and 1 <= int(port) <= 65535 and not port.startswith("0"):
        return None
    return "a port number from 1 to 65535"


def _pattern(regex: re.Pattern[str], expected: str) -> Grammar:
    return lambda value: None if regex.fullmatch(value) and not value.startswith("-") else expected


def _words(*allowed: str, why: str = "") -> Grammar:
    return lambda value: None if value.lower() in allowed else f"one of {', '.join(allowed)}{why}"


def _jump_hop_problem(hop: str) -> str | None:
    user, at, host_port = hop.rpartition("@")
    if at and not USER_NAME.fullmatch(user):
        return "a user name of letters, digits, '.', '_', '-'"
    if host_port.startswith("["):  # [IPv6] or [IPv6]:port
        literal, bracket, rest = host_port[1:].partition("]")
        host, port = literal, rest[1:] if rest.startswith(":") else None
        if not bracket or (rest and port is None):
            return "[IPv6 address] or [IPv6 address]:port"
        if ":" not in host or host_problem(host) is not None:
            return "an IPv6 address inside brackets"
    else:
        host, colon, port_text = host_port.partition(":")
        port = port_text if colon else None
        if host_problem(host) is not None:
            return host_problem(host)
    return port_problem(port) if port is not None else None


def jump_problem(value: str) -> str | None:
    """`-J` / ProxyJump: `none`, or `[user@]host[:port]` hops joined by ','."""
    if value.lower() == "none":
        return None
    for hop in value.split(","):
        if (problem := _jump_hop_problem(hop)) is not None:
            return f"[user@]host[:port] hops joined by ',' ({problem}); OpenSSH runs jump specs through a shell"
    return None


YES_NO = _words("yes", "no")
PATH = _pattern(FILE_PATH, "a file path of letters, digits and . _ + @ , / - (no spaces, quotes, '%', '$' or '~user')")
INTEGER = _pattern(NUMBER, "a whole number")


def known_hosts_problem(value: str) -> str | None:
    """A known_hosts file that keeps what it learns: never `none` or a device (/dev/null forgets every key, so
    `accept-new` would trust whoever answers, on every connection), and no `..` that could reach one."""
    if (problem := PATH(value)) is not None:
        return problem
    parts = value.split("/")
    if value.lower() == "none" or ".." in parts or value.startswith(("/dev/", "/proc/", "/sys/")):
        return (
            "a real known_hosts file (not none, /dev/null or another device, and no '..'): a file that forgets host "
            "keys lets whoever answers take the Docker engine"
        )
    return None


OPTIONS: dict[str, Grammar] = {
    "addressfamily": _words("any", "inet", "inet6"),
    "batchmode": YES_NO,
    "certificatefile": PATH,
    "checkhostip": YES_NO,
    "ciphers": _pattern(ALGORITHMS, "a comma-separated list of algorithm names"),
    "compression": YES_NO,
    "connectionattempts": INTEGER,
    "connecttimeout": INTEGER,
    "globalknownhostsfile": known_hosts_problem,
    "hostkeyalgorithms": _pattern(ALGORITHMS, "a comma-separated list of algorithm names"),
    "hostkeyalias": lambda value: host_problem(value),
    "identitiesonly": YES_NO,
    "identityfile": PATH,
    "kbdinteractiveauthentication": YES_NO,
    "kexalgorithms": _pattern(ALGORITHMS, "a comma-separated list of algorithm names"),
    "loglevel": _words(*LOG_LEVELS),
    "macs": _pattern(ALGORITHMS, "a comma-separated list of algorithm names"),
    "passwordauthentication": YES_NO,
    "port": port_problem,
    "preferredauthentications": lambda value: (
        None
        if all(method in AUTH_METHODS for method in value.split(","))
        else f"a comma-separated list of {', '.join(AUTH_METHODS)}"
    ),
    "proxyjump": jump_problem,
    "pubkeyacceptedalgorithms": _pattern(ALGORITHMS, "a comma-separated list of algorithm names"),
    "serveralivecountmax": INTEGER,
    "serveraliveinterval": INTEGER,
    # Host keys are checked: a Docker engine reached over an unchecked connection gives whoever answers root.
    "stricthostkeychecking": _words(
        "yes", "accept-new", "ask", why=" (host key checking stays on: add the host's key to a known_hosts file)"
    ),
    "user": _pattern(USER_NAME, "a user name of letters, digits, '.', '_', '-'"),
    "userknownhostsfile": known_hosts_problem,
    "verifyhostkeydns": _words("yes", "no", "ask"),
}
"""ssh client options a stack may pass, with the grammar of their value: how to connect and whom to trust."""
FLAGS = frozenset("46Cqv")
"""ssh flags without a value a stack may pass (address family, compression, verbosity)."""
FLAGS_WITH_VALUE: dict[str, tuple[str, Grammar]] = {
    "i": ("IdentityFile", PATH),
    "p": ("Port", port_problem),
    "J": ("ProxyJump", jump_problem),
    "l": ("User", OPTIONS["user"]),
}
_CONFIG_LINE = re.compile(r"\s*([A-Za-z]+)(?:\s*=\s*|\s+)(\S.*?)\s*\Z", re.DOTALL)


def option_problem(line: str) -> str | None:
    """What is wrong with one `-o` config line (`Key=Value`, `Key Value`, `Key = Value`), or None."""
    match = _CONFIG_LINE.fullmatch(line)
    if match is None:
        return "expected Option=value (for example ConnectTimeout=10)"
    name, value = match[1].lower(), match[2]
    grammar = OPTIONS.get(name)
    if grammar is None:
        return (
            f"ssh option {name!r} is not allowed: only options about connecting and trusting hosts, never one that "
            f"runs a command or reads another config file (allowed: {', '.join(sorted(OPTIONS))})"
        )
    problem = grammar(value)
    return None if problem is None else f"ssh option {name!r} expects {problem}"


def _flags_problem(arg: str, following: str | None) -> tuple[int, str | None]:
    """(arguments used, problem) for one argument that starts with '-', read as ssh's getopt reads it."""
    for at, flag in enumerate(arg[1:], start=1):
        if flag in FLAGS:
            continue
        if flag != "o" and flag not in FLAGS_WITH_VALUE:
            allowed = ", ".join(f"-{f}" for f in [*sorted(FLAGS), "o", *FLAGS_WITH_VALUE])
            return 1, f"-{flag} is not an ssh flag runner-fleet passes on (allowed: {allowed})"
        attached = arg[at + 1 :]
        value, used = (attached, 1) if attached else (following, 2)
        if value is None:
            return 1, f"-{flag} needs a value"
        if flag == "o":
            return used, option_problem(value)
        name, grammar = FLAGS_WITH_VALUE[flag]
        problem = grammar(value)
        return used, None if problem is None else f"-{flag} ({name}) expects {problem}"
    return 1, None


def ssh_opts_problem(opts: tuple[str, ...]) -> tuple[int, str] | None:
    """(index, why) of the first ssh argument outside the allow-list, or None."""
    i = 0
    while i < len(opts):
        arg = opts[i]
        if not arg.startswith("-") or arg in ("-", "--"):
            # ssh would take it as the destination (or the end of options): the URL is the only destination.
            return i, "expected an ssh option (-o Option=value, -i, -p, -J, -l or -4, -6, -C, -q, -v)"
        used, problem = _flags_problem(arg, opts[i + 1] if i + 1 < len(opts) else None)
        if problem is not None:
            return i + used - 1, problem
        i += used
    return None


def engine_url_problem(user: str | None, host: str | None) -> str | None:
    """The user and host of an ssh:// or tcp:// Docker URL: plain names only, since both reach ssh's command line
    (and through %r/%h tokens any ProxyCommand a user's ssh_config has)."""
    if user is not None and not USER_NAME.fullmatch(user):
        return "the user of a Docker URL is a user name of letters, digits, '.', '_', '-'"
    if host is not None and (problem := host_problem(host)) is not None:
        return f"the host of a Docker URL is {problem}"
    return None


CONTEXT_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:@/+-]{0,252}")


def context_problem(context: str) -> str | None:
    """A kubeconfig context name as `kubectl --context` and the provider take it: printable, no whitespace, no
    shell metacharacters, never starting with '-' (cloud providers' names such as
    `arn:aws:eks:eu-west-1:1234:cluster/ci` or `gke_project_zone_name` pass)."""
    if CONTEXT_NAME.fullmatch(context):
        return None
    return "expected a kubeconfig context name (letters, digits and _ . : @ / + -, not starting with '-')"
