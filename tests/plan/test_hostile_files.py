"""Hostile and broken stack *files*, through the plan command as a user runs it: each ends in exit 2 (or 3 for
a policy) with a one-line message that names the file position or key path, never a traceback (exit 1), and
never repeats a secret. The spec-level corpus (tests/spec/test_hostile.py, test_passthrough.py,
test_bad_input.py) covers values; this one covers what only a file can be: encodings, YAML features, sizes.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from components.plan.__main__ import main
from tests.fleets import SMALL_STACK_FILE, ciphertext

BASE = SMALL_STACK_FILE
TOKEN = "glpat-Zx9cV8bN7mQ6wE5rT4yU"
PEM = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\\n"
    "-----END OPENSSH PRIVATE KEY-----"
)
NEVER_PRINTED = (TOKEN, "hunter2", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ", "CANARY")


def _secure(label: str) -> str:
    """A YAML `{secure: ...}` holding a well-formed ciphertext that carries `label` (a canary stays findable)."""
    return "{secure: " + ciphertext(label) + "}"


def _replace(old: str, new: str) -> bytes:
    assert old in BASE, old
    return BASE.replace(old, new, 1).encode()


def _runner_key(text: str) -> bytes:
    return _replace("      maximumTimeout: 3600\n", f"      maximumTimeout: 3600\n{text}")


LAUGHS = "&a [lol, lol, lol, lol, lol, lol, lol, lol, lol]" + "".join(
    f", &{b} [{', '.join([f'*{a}'] * 9)}]" for a, b in zip("abcdefg", "bcdefgh", strict=True)
)

CORPUS: list[tuple[str, bytes, int, str]] = [
    # encodings and bytes
    ("UTF-16 with a byte order mark", BASE.encode("utf-16"), 2, "not UTF-8 text"),
    ("Latin-1 text", BASE.replace("[unit]", "[unité]").encode("latin-1"), 2, "not UTF-8"),
    ("a stray 0xff byte", BASE.encode() + b"\xff", 2, "not UTF-8 text"),
    ("a PNG file", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), 2, "not UTF-8"),
    ("a NUL character", _replace("[unit]", "[un\x00it]"), 2, "U+0000 is not allowed"),
    ("an escape character", _replace("[unit]", "[un\x1bit]"), 2, "U+001B is not allowed"),
    ("more than 1 MiB", BASE.encode() + b"#" * (1 << 20), 2, "a stack file may have at most 1048576"),
    ("an empty file", b"", 2, "gitlabUrl"),
    ("only a comment", b"# nothing here\n", 2, "gitlabUrl"),
    ("a list at the top", b"- config\n- 1\n", 2, "expected a map with a 'config' map"),
    ("config is a string", b"config: hosts\n", 2, "expected a map with a 'config' map"),
    ("config is a list", b"config: [1, 2]\n", 2, "expected a map with a 'config' map"),
    ("unclosed flow list", b"config: [1, 2\n", 2, "not a valid stack file"),
    ("tab indentation", _replace("      host: edge-1", "\thost: edge-1"), 2, "'\\t' that cannot start any token"),
    # YAML features the CLI reads differently, or not at all
    ("an unquoted date", _replace("https://gitlab.acme.test", "2024-01-01"), 2, "an unquoted date or time"),
    ("an unquoted timestamp", _replace("[unit]", "[2024-01-01T10:00:00Z]"), 2, "an unquoted date or time"),
    ("a !!set", _replace("[unit]", "!!set {unit: null}"), 2, "tag:yaml.org,2002:set is not a value"),
    ("a !!binary", _replace("[unit]", "!!binary aGVsbG8="), 2, "tag:yaml.org,2002:binary is not a value"),
    ("an !!omap", _replace("[unit]", "!!omap [a: 1]"), 2, "tag:yaml.org,2002:omap is not a value"),
    (
        "a python object",
        _replace("[unit]", "!!python/object/apply:os.system [id]"),
        2,
        "could not determine a constructor",
    ),
    ("a custom tag", _replace("[unit]", "!vault unit"), 2, "could not determine a constructor"),
    (
        "a duplicate runner",
        (BASE + "    unit:\n      host: edge-1\n      scope: {instance: true}\n").encode(),
        2,
        "duplicate key 'unit'",
    ),
    ("a duplicate config key", (BASE + "  runner-fleet:gitlabUrl: https://evil.test\n").encode(), 2, "duplicate key"),
    (
        "a duplicate key in a flow map",
        _replace("{group: acme}", "{group: acme, group: evil}"),
        2,
        "duplicate key 'group'",
    ),
    ("a float key", _replace("    unit:", "    1.5: x\n    unit:"), 2, "a key that is not a string"),
    ("a null key", _replace("    unit:", "    ~: x\n    unit:"), 2, "a key that is not a string"),
    ("a boolean key", _replace("    unit:", "    true: x\n    unit:"), 2, "a key that is not a string"),
    ("a list as a key", _replace("    unit:", "    ? [a]\n    : x\n    unit:"), 2, "not a valid stack file"),
    ("yes as a boolean", _runner_key("      buildkit: yes\n"), 2, "runners.unit.buildkit: expected true or false"),
    ("on as a boolean", _runner_key("      locked: on\n"), 2, "runners.unit.locked: expected true or false"),
    ("billion laughs", _replace("[unit]", f"[{LAUGHS}]"), 2, "expands to more than 200000 values"),
    ("deep nesting", _runner_key("      extraConfig: " + "[" * 5000 + "]" * 5000 + "\n"), 2, "nested too deeply"),
    (
        "nesting past the limit",
        _runner_key("      paused: " + "[" * 40 + "]" * 40 + "\n"),
        2,
        "nested more than 32 levels",
    ),
    # numbers
    # Past Python's int parser limit (4,300 digits) the number is still reported at its key, like a shorter one.
    ("a 5000-digit number", _replace("3600", "9" * 5000), 2, "maximumTimeout: a number beyond 64 bits"),
    ("a 400-digit number", _replace("3600", "9" * 400), 2, "runners.unit.maximumTimeout"),
    ("a float timeout", _replace("3600", "3600.5"), 2, "runners.unit.maximumTimeout: expected a whole number"),
    ("an infinite timeout", _replace("3600", ".inf"), 2, "runners.unit.maximumTimeout: expected a whole number"),
    ("a NaN timeout", _replace("3600", ".nan"), 2, "runners.unit.maximumTimeout: expected a whole number"),
    (
        "Unicode digits",
        _replace("3600", "'\uff13\uff16\uff10\uff10'"),
        2,
        "runners.unit.maximumTimeout: expected a whole number",
    ),
    ("a timeout with a unit", _replace("3600", "3600s"), 2, "runners.unit.maximumTimeout: expected a whole number"),
    ("a negative limit", _runner_key("      limit: -1\n"), 2, "runners.unit.limit: must be >= 0"),
    # URLs and ports
    (
        "a broken IPv6 literal",
        _replace("ssh://ci@edge-1.acme.test", "ssh://ci@[::1"),
        2,
        "hosts.edge-1.docker.host: not a valid URL",
    ),
    (
        "a port beyond 65535",
        _replace("ssh://ci@edge-1.acme.test", "tcp://edge:99999"),
        2,
        "hosts.edge-1.docker.host: not a valid URL",
    ),
    (
        "a port that is a word",
        _replace("ssh://ci@edge-1.acme.test", "tcp://edge:http"),
        2,
        "hosts.edge-1.docker.host: not a valid URL",
    ),
    ("an http Docker URL", _replace("ssh://ci@edge-1.acme.test", "http://edge-1"), 2, "hosts.edge-1.docker.host"),
    (
        "a password in the GitLab URL",
        _replace("https://gitlab.acme.test", "https://root:hunter2@gitlab.acme.test"),
        2,
        "gitlabUrl",
    ),
    (
        "a query in the GitLab URL",
        _replace("https://gitlab.acme.test", "https://gitlab.acme.test/?private_token=x"),
        2,
        "gitlabUrl",
    ),
    ("a javascript URL", _replace("https://gitlab.acme.test", "'javascript:alert(1)'"), 2, "gitlabUrl"),
    (
        "a password in the ssh URL",
        _replace("ssh://ci@edge-1", "ssh://ci:hunter2@edge-1"),
        2,
        "hosts.edge-1.docker.host",
    ),
    # secrets in the wrong place
    (
        "a token as a config key",
        _replace("  runner-fleet:runners:", f"  runner-fleet:{TOKEN}: 1\n  runner-fleet:runners:"),
        2,
        "[secret]: unknown key",
    ),
    ("a token as a runner key", _replace("    unit:", f"    {TOKEN}:\n      host: edge-1\n    unit:"), 2, "runners."),
    ("a token as a tag", _replace("[unit]", f"[{TOKEN}]"), 2, "runners.unit.tags[0]"),
    (
        "a private key in sshOpts",
        _replace(
            "        host: ssh://ci@edge-1.acme.test",
            f'        host: ssh://ci@edge-1.acme.test\n        sshOpts: ["{PEM}"]',
        ),
        2,
        "hosts.edge-1.docker.sshOpts",
    ),
    (
        "hosts encrypted",
        _replace("  runner-fleet:hosts:\n", f"  runner-fleet:hosts: {_secure('CANARYcipher')}\n  runner-fleet:x:\n"),
        2,
        "hosts: must not be a secret",
    ),
    (
        "a token in extraConfig",
        _runner_key(f"      extraConfig: 'token = \"{TOKEN}\"'\n"),
        2,
        "runners.unit.extraConfig.token",
    ),
    (
        "a masked literal GitLab refuses",
        (
            BASE
            + "  runner-fleet:variables:\n  - {project: acme/app, key: K, value: 'hunter2 hunter2', masked: true}\n"
        ).encode(),
        2,
        "variables[0].value: GitLab refuses to mask",
    ),
    # names the APIs would refuse later
    ("a host key nobody refers to", _replace("    edge-1:\n", "    Edge_1:\n"), 2, "runners.unit.host: unknown host"),
    ("a tag with a comma", _replace("[unit]", "['a,b']"), 2, "runners.unit.tags: 'a,b': a tag has no commas"),
    ("a group path with ..", _replace("{group: acme}", "{group: acme/../root}"), 2, "runners.unit.scope.group"),
    ("a group id of zero", _replace("{group: acme}", "{group: 0}"), 2, "runners.unit.scope.group"),
    ("a wrong project prefix", _replace("  runner-fleet:runners:", "  runnerfleet:runners:"), 2, "runnerfleet:runners"),
    # found by attacking the security model (each once crashed, slipped through or leaked)
    (
        "tier written twice",
        (BASE + "  tier: development\n").replace("config:\n", "config:\n  runner-fleet:tier: production\n").encode(),
        2,
        "written a second time",
    ),
    ("a newline in a host key", _replace("    edge-1:\n", '    "edge-1\\n":\n'), 2, "hosts.edge-1"),
    ("a newline in a runner key", _replace("    unit:\n", '    "unit\\n":\n'), 2, "runners.unit"),
    (
        "a token as the project of a scope",
        _replace("{group: acme}", f"{{project: {TOKEN}}}"),
        2,
        "runners.unit.scope.project: looks like a credential",
    ),
    (
        "an id beyond 32 bits as text",
        _replace("{group: acme}", "{project: '2147483648'}"),
        2,
        "runners.unit.scope.project",
    ),
    ("an id of zeros", _replace("{group: acme}", "{project: '0000'}"), 2, "runners.unit.scope.project"),
    (
        "a token as a variable owner",
        (BASE + f"  runner-fleet:variables:\n  - {{project: {TOKEN}, key: K, value: v}}\n").encode(),
        2,
        "variables[0].project: looks like a credential",
    ),
    (
        "a token as a plain variable value",
        (BASE + f"  runner-fleet:variables:\n  - {{project: 1, key: K, value: {TOKEN}}}\n").encode(),
        2,
        "variables[0].value: looks like a credential",
    ),
    (
        "a private key as a plain variable value",
        (BASE + f'  runner-fleet:variables:\n  - {{project: 1, key: K, value: "{PEM}"}}\n').encode(),
        2,
        "variables[0].value: looks like a credential",
    ),
    (
        "environment as a table",
        _runner_key("      extraConfig: 'environment = { \"FF_NETWORK_PER_BUILD=true\" = 1 }'\n"),
        2,
        "runners.unit.extraConfig.environment: expected a list",
    ),
    (
        "environment as a number",
        _runner_key("      extraConfig: 'environment = 5'\n"),
        2,
        "runners.unit.extraConfig.environment: expected a list",
    ),
    (
        "environment as a string",
        _runner_key("      extraConfig: 'environment = \"FF_X=1\"'\n"),
        2,
        "runners.unit.extraConfig.environment: expected a list",
    ),
    (
        "a URL password in a script",
        _runner_key("      extraConfig: 'pre_build_script = \"git clone https://ci:hunter2@git.acme.test/x\"'\n"),
        2,
        "runners.unit.extraConfig.pre_build_script: looks like a credential",
    ),
    (
        "a token in an environment entry",
        _runner_key(f"      extraConfig: 'environment = [\"GITLAB_TOKEN={TOKEN}\"]'\n"),
        2,
        "runners.unit.extraConfig.environment: GITLAB_TOKEN looks like it holds a secret",
    ),
    (
        "a socket as an anonymous volume",
        _runner_key("      extraConfig: \"[docker]\\nvolumes = ['/var/run/docker.sock']\"\n"),
        2,
        "runners.unit.extraConfig.docker.volumes",
    ),
    (
        "the API to another server in production",
        BASE.replace(
            "config:\n", "config:\n  runner-fleet:tier: production\n  gitlab:baseUrl: https://evil.test/api/v4/\n"
        ).encode(),
        2,
        "gitlab:baseUrl: is not on gitlabUrl's host",
    ),
    (
        "a password in the API URL",
        BASE.replace(
            "config:\n", "config:\n  gitlab:baseUrl: https://root:hunter2@gitlab.acme.test/api/v4/\n"
        ).encode(),
        2,
        "gitlab:baseUrl",
    ),
    (
        "TLS off for the API in production",
        BASE.replace("config:\n", "config:\n  runner-fleet:tier: production\n  gitlab:insecure: 'true'\n").encode(),
        2,
        "gitlab:insecure",
    ),
    (
        "a homograph GitLab URL",
        _replace("https://gitlab.acme.test", "https://gitl\u0430b.acme.test"),
        2,
        "gitlabUrl: expected an http(s):// URL",
    ),
    (
        "a ProxyCommand in sshOpts",
        _replace(
            "        host: ssh://ci@edge-1.acme.test",
            '        host: ssh://ci@edge-1.acme.test\n        sshOpts: ["-o", "ProxyCommand=sh -c id"]',
        ),
        2,
        "hosts.edge-1.docker.sshOpts[1]: ssh option 'proxycommand' is not allowed",
    ),
    (
        "another ssh config file",
        _replace(
            "        host: ssh://ci@edge-1.acme.test",
            '        host: ssh://ci@edge-1.acme.test\n        sshOpts: ["-F", "/tmp/evil"]',
        ),
        2,
        "hosts.edge-1.docker.sshOpts[0]",
    ),
    (
        "an option as the ssh host",
        _replace("ssh://ci@edge-1.acme.test", "ssh://-oProxyCommand=id"),
        2,
        "hosts.edge-1.docker.host",
    ),
    (
        "a path in an ssh URL",
        _replace("ssh://ci@edge-1.acme.test", "ssh://ci@edge-1.acme.test/x"),
        2,
        "hosts.edge-1.docker.host: an ssh:// URL has no path",
    ),
    (
        "a relative unix socket",
        _replace("ssh://ci@edge-1.acme.test", "unix://var/run/docker.sock"),
        2,
        "hosts.edge-1.docker.host",
    ),
    ("port zero", _replace("ssh://ci@edge-1.acme.test", "tcp://edge-1:0"), 2, "hosts.edge-1.docker.host: port 0"),
    (
        "a metrics port (Docker picks it)",
        _replace(
            "        host: ssh://ci@edge-1.acme.test\n",
            "        host: ssh://ci@edge-1.acme.test\n        metricsPort: 19252\n",
        ),
        2,
        "hosts.edge-1.docker.metricsPort: no longer taken",
    ),
    (
        "jobs in kube-system",
        _replace(
            "    edge-1:\n      docker:\n        host: ssh://ci@edge-1.acme.test\n",
            "    edge-1:\n      kubernetes: {namespace: ci, jobNamespace: kube-system}\n",
        ),
        2,
        "jobNamespace: 'kube-system' belongs to the cluster",
    ),
    (
        "the manager in default",
        _replace(
            "    edge-1:\n      docker:\n        host: ssh://ci@edge-1.acme.test\n",
            "    edge-1:\n      kubernetes: {namespace: default}\n",
        ),
        2,
        "namespace: 'default' belongs to the cluster",
    ),
    (
        "a node selector value with spaces",
        _replace(
            "    edge-1:\n      docker:\n        host: ssh://ci@edge-1.acme.test\n",
            "    edge-1:\n      kubernetes: {namespace: ci, nodeSelector: {pool: 'x y'}}\n",
        ),
        2,
        "nodeSelector.pool: expected a Kubernetes label value",
    ),
    (
        "a token in a node selector",
        _replace(
            "    edge-1:\n      docker:\n        host: ssh://ci@edge-1.acme.test\n",
            f"    edge-1:\n      kubernetes: {{namespace: ci, nodeSelector: {{token: {TOKEN}}}}}\n",
        ),
        2,
        "nodeSelector.token: looks like a credential",
    ),
    (
        "anyone's BuildKit image",
        _runner_key(
            "      buildkit: true\n      image: docker.io/attacker/buildkit:v1-rootless\n"
            "      allowedImages: [docker.io/attacker/buildkit:*rootless]\n"
        ),
        2,
        "is not moby's rootless BuildKit image",
    ),
    ("a tag with a bidi override", _replace("[unit]", "['un\u202eit']"), 2, "U+202E"),
    ("a megabyte of URL-like text", _replace("[unit]", "['" + "a://" * 200_000 + "']"), 2, "runners.unit.tags"),
    # found by the second attack
    (
        "the API URL as a secret",
        BASE.replace("config:\n", f"config:\n  gitlab:baseUrl: {_secure('CANARYcipherURL')}\n").encode(),
        2,
        "gitlab:baseUrl: must not be a secret",
    ),
    (
        "TLS switch as a secret",
        BASE.replace("config:\n", f"config:\n  gitlab:insecure: {_secure('CANARYcipherTLS')}\n").encode(),
        2,
        "gitlab:insecure: must not be a secret",
    ),
    (
        "the API token pasted under secure:",
        BASE.replace("config:\n", f"config:\n  gitlab:token: {{secure: 'v1:{TOKEN}:hunter2'}}\n").encode(),
        2,
        "gitlab:token: a secure value must be a ciphertext",
    ),
    (
        "the API token in plain text",
        BASE.replace("config:\n", f"config:\n  gitlab:token: {TOKEN}\n").encode(),
        2,
        "gitlab:token: holds the API token in plain text",
    ),
    (
        "a token where a flag belongs",
        BASE.replace("config:\n", f"config:\n  gitlab:earlyAuthCheck: {TOKEN}\n").encode(),
        2,
        "gitlab:earlyAuthCheck: expected true or false",
    ),
    (
        "yes as the TLS switch",
        BASE.replace("config:\n", "config:\n  gitlab:insecure: 'yes'\n").encode(),
        2,
        "gitlab:insecure: expected true or false",
    ),
    (
        "retries as a word",
        BASE.replace("config:\n", "config:\n  gitlab:retries: abc\n").encode(),
        2,
        "gitlab:retries: expected a whole number",
    ),
    (
        "a legacy key to another API",
        BASE.replace(
            "config:\n",
            "config:\n  runner-fleet:tier: production\n  gitlab:config:baseUrl: https://evil.test/api/v4/\n",
        ).encode(),
        2,
        "gitlab:baseUrl: is not on gitlabUrl's host",
    ),
    (
        "a key with an empty namespace",
        BASE.replace("config:\n", "config:\n  ':x': 1\n").encode(),
        2,
        "is not <namespace>:<name>",
    ),
    (
        "a key with three parts",
        BASE.replace("config:\n", "config:\n  gitlab:token:extra: 1\n").encode(),
        2,
        "is not <namespace>:<name>",
    ),
    ("an ESC environment as a map", (BASE + "environment:\n  prod: secrets\n").encode(), 2, "Pulumi ESC"),
    ("an ESC environment with a newline", (BASE + "environment: ['a\\nb']\n").encode(), 2, "Pulumi ESC"),
    ("a lone surrogate", _replace("[unit]", '["a\\ud800b"]'), 2, "unpaired surrogate"),
    ("5000 hex digits", _replace("3600", "0x" + "f" * 5000), 2, "a number beyond 64 bits"),
    ("5000 negative digits", _replace("3600", "-" + "9" * 5000), 2, "maximumTimeout: a number beyond 64 bits"),
    ("20000 binary digits", _replace("3600", "0b" + "1" * 20000), 2, "read differently"),
    (
        "aliases of a large string",
        (
            BASE
            + '  runner-fleet:junk: &s "'
            + "x" * 300_000
            + '"\n  runner-fleet:junk2: ['
            + ", ".join(["*s"] * 40)
            + "]\n"
        ).encode(),
        2,
        "characters (YAML aliases",
    ),
    (
        "a glob that backtracks",
        _runner_key(
            '      image: registry.acme.test/platform/ci-images/build-base:1.2.3\n      allowedImages: ["'
            + "*" * 28
            + 'x"]\n'
        ),
        2,
        "runners.unit.image",
    ),
    (
        "a token as a tmpfs path",
        _runner_key(f"      extraConfig: \"[docker.tmpfs]\\n'/{TOKEN}' = 'rw'\"\n"),
        2,
        "runners.unit.extraConfig.docker.tmpfs",
    ),
    (
        "tmpfs with shell in its options",
        _runner_key("      extraConfig: \"[docker.tmpfs]\\n'/x' = 'rw;id'\"\n"),
        2,
        "runners.unit.extraConfig.docker.tmpfs",
    ),
    (
        "a manager image that floats",
        _replace("    edge-1:\n", "    edge-1:\n      runnerImage: gitlab/gitlab-runner:alpine3.21\n"),
        2,
        "hosts.edge-1.runnerImage: the tag must name the exact gitlab-runner release",
    ),
    (
        "a manager image below the floor",
        _replace("    edge-1:\n", "    edge-1:\n      runnerImage: gitlab/gitlab-runner:alpine-v17.11.0\n"),
        2,
        "hosts.edge-1.runnerImage: v17.11.0 is older than gitlab-runner 18.11",
    ),
    (
        "a host directory for cron",
        _runner_key("      hostDirectories: [{hostPath: /var/spool/cron/crontabs, mountPath: /mnt/x}]\n"),
        2,
        "runners.unit.hostDirectories[0].hostPath",
    ),
    (
        "a host directory holding LXD's socket",
        _runner_key("      hostDirectories: [{hostPath: /srv/runner-fleet/lxd/unix.socket, mountPath: /x}]\n"),
        2,
        "is or holds a socket",
    ),
    (
        "a host directory over the checkouts",
        _runner_key("      hostDirectories: [{hostPath: /srv/runner-fleet/ci, mountPath: /builds}]\n"),
        2,
        "mountPath: /builds: not over",
    ),
    # found by the third attack
    ("a timeout as h:mm:ss", _replace("3600", "1:00:00"), 2, "an unquoted number that YAML versions read differently"),
    ("a project id as h:mm:ss", _replace("{group: acme}", "{project: 11:46:51}"), 2, "read differently"),
    ("a limit with a leading zero", _runner_key("      limit: 010\n"), 2, "read differently"),
    (
        "a secret by its name in the environment",
        _runner_key(
            "      extraConfig: 'environment = [\"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"]'\n"
        ),
        2,
        "AWS_SECRET_ACCESS_KEY looks like it holds a secret",
    ),
    (
        "registry credentials in the environment",
        _runner_key("      extraConfig: 'environment = [\"DOCKER_AUTH_CONFIG={}\"]'\n"),
        2,
        "DOCKER_AUTH_CONFIG has a key of its own: runners.<r>.registryAuth",
    ),
    (
        "a CA outside the project in production",
        BASE.replace(
            "config:\n", "config:\n  runner-fleet:tier: production\n  gitlab:cacertFile: /tmp/evil-ca.pem\n"
        ).encode(),
        2,
        "gitlab:cacertFile: is not a relative path inside the project",
    ),
    (
        "the API on another port in production",
        BASE.replace(
            "config:\n",
            "config:\n  runner-fleet:tier: production\n  gitlab:baseUrl: https://gitlab.acme.test:8443/api/v4/\n",
        ).encode(),
        2,
        "gitlab:baseUrl: is not on gitlabUrl's host and port",
    ),
    (
        "a host directory of GitLab's own config",
        _runner_key("      hostDirectories: [{hostPath: /srv/gitlab/config, mountPath: /x}]\n"),
        2,
        "below /srv/runner-fleet/",
    ),
    # escapes through extraConfig
    (
        "the docker socket in extraConfig",
        _runner_key("      extraConfig: \"[docker]\\nvolumes = ['/var/run/docker.sock:/var/run/docker.sock']\"\n"),
        2,
        "runners.unit.extraConfig.docker.volumes",
    ),
    (
        "privileged in extraConfig",
        _runner_key('      extraConfig: "[docker]\\nprivileged = true"\n'),
        2,
        "runners.unit.extraConfig.docker.privileged",
    ),
    (
        "volumes_from in extraConfig",
        _runner_key("      extraConfig: \"[docker]\\nvolumes_from = ['gitlab-runner-test-edge-1']\"\n"),
        2,
        "runners.unit.extraConfig.docker.volumes_from",
    ),
    (
        "a kubernetes section on a Docker runner",
        _runner_key("      extraConfig: \"[kubernetes]\\nnamespace = 'kube-system'\"\n"),
        2,
        "runners.unit.extraConfig.kubernetes",
    ),
    ("extraConfig that is not TOML", _runner_key('      extraConfig: "[docker"\n'), 2, "runners.unit.extraConfig"),
]


def _plan(tmp_path: Path, content: bytes) -> tuple[int, str, str]:
    stack_file = tmp_path / "Pulumi.test.yaml"
    stack_file.write_bytes(content)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["--stack-file", str(stack_file), "--out", str(tmp_path / "plan")])
    return status, out.getvalue(), err.getvalue()


def test_the_corpus_is_large_and_distinct() -> None:
    names = [c[0] for c in CORPUS]
    assert len(names) == len(set(names)) and len(names) >= 60
    assert len({c[1] for c in CORPUS}) == len(CORPUS), "every case is a different file"


@pytest.mark.parametrize(("case", "content", "status", "message"), CORPUS, ids=[c[0] for c in CORPUS])
def test_hostile_files_end_cleanly(tmp_path: Path, case: str, content: bytes, status: int, message: str) -> None:
    code, stdout, stderr = _plan(tmp_path, content)
    assert code == status, f"{case}: exit {code}\n{stderr}"
    assert message in stderr, f"{case}: {stderr}"
    assert "Traceback" not in stderr + stdout
    for line in stderr.splitlines():
        assert len(line) <= 600, line
    for secret in NEVER_PRINTED:
        assert secret not in stdout + stderr, (case, secret)
    if status == 2:
        assert not (tmp_path / "plan").exists(), "nothing is written for an invalid stack"
    else:  # a policy stops it after the plan is written, so the reviewer can see why
        assert (tmp_path / "plan" / "plan.json").is_file()


# The canaries are the labels of well-formed ciphertexts (tests.fleets.ciphertext): a stack file the CLI would read.
CANARY_STACK = """config:
  gitlab:token: {secure: v1:CANARYcipherGITLAB}
  runner-fleet:gitlabUrl: https://gitlab.acme.test
  runner-fleet:deployToken: {secure: v1:CANARYcipherVARIABLE}
  runner-fleet:clusterKubeconfig: {secure: v1:CANARYcipherKUBECONFIG}
  runner-fleet:dockerCa: {secure: v1:CANARYcipherCA}
  runner-fleet:dockerCert: {secure: v1:CANARYcipherCERT}
  runner-fleet:dockerKey: {secure: v1:CANARYcipherKEY}
  runner-fleet:cacheAccessKey: {secure: v1:CANARYcipherCACHEAK}
  runner-fleet:cacheSecretKey: {secure: v1:CANARYcipherCACHESK}
  runner-fleet:cache:
    type: s3
    s3: {bucketName: ci-cache, accessKey: {secret: cacheAccessKey}, secretKey: {secret: cacheSecretKey}}
  runner-fleet:hosts:
    edge-1:
      docker:
        host: tcp://edge-1.acme.test:2376
        tls: {ca: dockerCa, cert: dockerCert, key: dockerKey}
    cluster:
      kubernetes: {namespace: ci, kubeconfig: clusterKubeconfig}
  runner-fleet:runners:
    images:
      host: edge-1
      scope: {group: acme}
      tags: [buildkit]
      buildkit: true
      maximumTimeout: 3600
    k8s-images:
      host: cluster
      scope: {project: acme/app}
      tags: [k8s-buildkit]
      buildkit: true
      maximumTimeout: 3600
  runner-fleet:variables:
  - {group: acme, key: DEPLOY_TOKEN, secret: deployToken, masked: true, protected: true}
  - {project: acme/app, key: MASKED_LITERAL, value: CanaryMaskedLiteral_7f3a9c, masked: true}
"""
CANARY_STACK = re.sub(r"v1:(CANARY\w+)", lambda label: ciphertext(label[1]), CANARY_STACK)
CANARIES = ("CANARYcipher", "CanaryMaskedLiteral_7f3a9c", "glrt-mock", "mock-secret-value-of")


def test_secret_canaries_never_reach_the_plan_files_or_the_terminal(tmp_path: Path) -> None:
    code, stdout, stderr = _plan(tmp_path, CANARY_STACK.encode())
    assert code == 0, stderr
    written = {p: p.read_text() for p in (tmp_path / "plan").rglob("*") if p.is_file()}
    assert {p.name for p in written} >= {"plan.json", "config.toml", "manifests.yaml"}
    for canary in CANARIES:
        assert canary not in stdout + stderr, canary
        for path, text in written.items():
            assert canary not in text, (canary, path)
    for host in ("edge-1", "cluster"):
        assert 'AccessKey = "[secret]"' in written[tmp_path / "plan" / "hosts" / host / "config.toml"]
    plan = written[tmp_path / "plan" / "plan.json"]
    assert "MASKED_LITERAL" in plan and "DEPLOY_TOKEN" in plan, "the variables are there, their values are not"


def test_a_broken_stack_s_canaries_are_not_echoed(tmp_path: Path) -> None:
    broken = CANARY_STACK.replace("tags: [buildkit]", f"tags: [buildkit, {TOKEN}]").replace(
        "https://gitlab.acme.test", "https://root:hunter2@gitlab.acme.test"
    )
    code, stdout, stderr = _plan(tmp_path, broken.encode())
    assert code == 2, stderr
    assert "runners.images.tags[1]" in stderr and "gitlabUrl" in stderr
    for canary in (*CANARIES, TOKEN, "hunter2"):
        assert canary not in stdout + stderr, canary


def test_a_stack_name_pulumi_would_refuse_is_refused(tmp_path: Path) -> None:
    for name in ("my stack$(x)", TOKEN):
        stack_file = tmp_path / f"Pulumi.{name}.yaml"
        stack_file.write_text(BASE)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(["--stack-file", str(stack_file), "--out", str(tmp_path / "plan")])
        assert status == 2 and "the stack name" in err.getvalue(), err.getvalue()
        assert TOKEN not in err.getvalue().replace(str(stack_file), "")
