"""What `extraConfig`'s `environment` may set for every job of a runner: the job's own settings, nothing more.

The names programs read from their environment are open-ended (an application reads whatever it likes), so the
model is a closed set of meanings, not of names: a variable is the job's own unless its name says it steers a
program that runs for every job outside the job's script, and then it belongs to the key that owns that
meaning, or to the project's .gitlab-ci.yml where the project that runs the code decides. Each meaning below
matches by word, prefix and fragment in any case, so `https_proxy`, `npm_config_https_proxy`, `GIT_CONFIG_KEY_0`
and `PIP_CERT` are refused by what they mean, not because someone listed them. A value is judged too: a
credential in any shape (a known token format, a URL with userinfo, a random-looking key) is refused naming the
variable, never repeating the value, since config.toml and the plan would carry it in plain text.

The runner's own variables: https://docs.gitlab.com/ci/runners/configure_runners/ (Git strategy, depth, ...).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from components.spec.credential_shapes import holds_secret
from components.spec.problems import credential_shape


@dataclass(frozen=True)
class Meaning:
    """A kind of variable that steers programs of every job beyond the job's script, and where it belongs."""

    what: str
    """What such a variable changes, for the message."""
    instead: str
    """Where to set it instead."""
    pattern: re.Pattern[str]
    """Matches the upper-cased name."""


def _any(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{a})" for a in alternatives))


W = r"(?:^|_)"  # a word boundary inside NAME_LIKE_THIS
E = r"(?:_|$)"
MEANINGS = (
    Meaning(
        "how TLS is trusted or verified (CA files, certificates, verification switches)",
        "gitlabCaBundle (the CA every job trusts; verification stays on)",
        _any(
            "SSL",
            "TLS",
            "CERT",
            f"{W}CA{E}",
            "CAFILE|CAPATH|CAINFO|CABUNDLE|CACERT",
            "TRUST",
            "VERIFY",
            "INSECURE",
            "UNAUTHORIZED",
            "REVOKE|REVOCATION",  # CARGO_HTTP_CHECK_REVOKE=false: revoked certificates pass
        ),
    ),
    Meaning(
        "where network traffic goes (proxies, name resolution)",
        "hosts.<h>.proxy (and extraConfig docker.dns / extra_hosts)",
        _any("PROXY", "^HOSTALIASES$", "^RES_OPTIONS$", "^LOCALDOMAIN$"),
    ),
    Meaning(
        "how git and ssh fetch the sources (git reads GIT_CONFIG_*, GIT_SSH_COMMAND, GIT_ASKPASS... as config)",
        ".gitlab-ci.yml variables of the project (here only GIT_STRATEGY, GIT_DEPTH, GIT_CHECKOUT, "
        "GIT_SUBMODULE_STRATEGY, GIT_SUBMODULE_DEPTH, GIT_LFS_SKIP_SMUDGE)",
        re.compile(
            r"^(?:GIT_(?!(?:STRATEGY|DEPTH|CHECKOUT|SUBMODULE_STRATEGY|SUBMODULE_DEPTH|LFS_SKIP_SMUDGE)$)|SSH_|GCM_)"
        ),
    ),
    Meaning(
        "which code programs load or run before the job's own (preloads, library and module paths, shell hooks, "
        "runtime options)",
        ".gitlab-ci.yml variables of the project",
        _any(
            "^LD_|^DYLD_",
            "PRELOAD|ASKPASS|LIBRARY_PATH",
            "^(?:BASH_ENV|ENV|PROMPT_COMMAND|SHELLOPTS|BASHOPTS|PS4|IFS|PATH|CDPATH|GLOBIGNORE|SHELL|PWD)$",
            "^(?:PYTHONPATH|PYTHONSTARTUP|PYTHONHOME|PERL5LIB|PERL5OPT|PERLLIB|RUBYOPT|RUBYLIB|NODE_OPTIONS)$",
            "^(?:NODE_PATH|JAVA_TOOL_OPTIONS|_JAVA_OPTIONS|JDK_JAVA_OPTIONS|GCONV_PATH|GOFLAGS|GODEBUG|GOROOT)$",
            "WRAPPER",  # RUSTC_WRAPPER, CARGO_BUILD_RUSTC_WRAPPER: a program run in place of the compiler
            # Python reads every PYTHON* variable; these few only tune the interpreter (the rest load code or
            # change where it comes from: PYTHONUSERBASE, PYTHONWARNINGS imports the categories it names).
            "^PYTHON(?!(?:UNBUFFERED|DONTWRITEBYTECODE|HASHSEED|IOENCODING|UTF8|FAULTHANDLER|OPTIMIZE|NOUSERSITE"
            "|DEVMODE|SAFEPATH|TRACEMALLOC)$)",
        ),
    ),
    Meaning(
        "where packages, modules and images come from and how they are verified (package indexes, registries, "
        "mirrors, checksum databases, toolchains)",
        ".gitlab-ci.yml variables of the project (and registryMirror for the images runner-fleet chooses)",
        _any(
            "INDEX_URL|EXTRA_INDEX|FIND_LINKS|SUMDB|NOSUMCHECK",
            # A package manager's own namespace: its registry, index, mirror or source settings (not
            # MAVEN_REPO_LOCAL / maven.repo.local, the local cache directory).
            "^(?:NPM_CONFIG|YARN|PNPM|BUN_CONFIG|PIP|UV|POETRY|PDM|PIPENV|CONDA|MAMBA|CARGO|RUSTUP|BUNDLE|GEM|"
            "COMPOSER|NUGET|HOMEBREW|PUB|HELM|COURSIER|SBT|MAVEN|GRADLE|DENO|JFROG)_"
            ".*(?:REGISTR|INDEX|REPOSITOR|REPO(?:_(?!LOCAL)|$)|MIRROR|SOURCE|CHANNEL|URL|HOST|SERVER|DOMAIN|DIST|SCOPE)",
            # The go command reads every GO* variable; these only pick the target and tune the build.
            "^GO(?!(?:OS|ARCH|ARM|ARM64|AMD64|386|MIPS|MIPS64|PPC64|RISCV64|WASM|CACHE|MODCACHE|PATH|BIN|TMPDIR"
            "|MAXPROCS|GC|MEMLIMIT|111MODULE|COVERDIR|TRACEBACK|TELEMETRY|EXPERIMENT)$)[A-Z0-9]+$",
            "^DOCKER_CONTENT_TRUST",
        ),
    ),
    Meaning(
        "where programs read their configuration or identity (home, config files, kubeconfig, Docker config)",
        "a secret CI/CD variable of type file (variables, with `secret:`)",
        _any(
            "^HOME$",
            "^XDG_CONFIG",
            "CONFIG_FILE|CREDENTIALS_FILE|USERCONFIG|GLOBALCONFIG",
            "^KUBECONFIG$|^NETRC$|^WGETRC$|^CURL_HOME$|^GNUPGHOME$",
            # A tool's password or service file (libpq's PGPASSFILE, PGSERVICEFILE): its identity, not the job's.
            "PASSFILE|AUTHFILE|CREDFILE|TOKENFILE|^PGSERVICEFILE$|^PGSYSCONFDIR$|^PGSERVICE$",
        ),
    ),
    Meaning(
        "what the runner, GitLab or the executor do, or which engine and identity jobs' tools use (predefined "
        "CI_*/GITLAB_* variables, KUBERNETES_* overwrites, DOCKER_HOST/TLS/CONFIG/CONTEXT, BUILDKIT_HOST)",
        "the runner's own keys in the stack file",
        _any(
            "^CI$",
            "^CI_",
            "^GITLAB_",
            "^KUBERNETES_",
            # The docker CLI's variables (docs.docker.com/reference/cli/docker/#environment-variables) choose the
            # engine, its TLS, config, context and request headers; these few only tune a build or the output.
            "^DOCKER_(?!(?:BUILDKIT|DRIVER|DEFAULT_PLATFORM|CLI_EXPERIMENTAL|CLI_HINTS|SCAN_SUGGEST"
            "|HIDE_LEGACY_COMMANDS|API_VERSION)$)",
            "^BUILDX_|^BUILDKIT_HOST$|^CONTAINER_HOST$|^CONTAINER_CONNECTION$|^CONTAINERD_|^PODMAN_|^BUILDAH_",
        ),
    ),
)
"""Meanings a runner never sets for every job, in the order they are tried."""


_SECRET_MESSAGE = (
    "{name} looks like it holds a secret, which config.toml would carry in plain text; make it a CI/CD variable "
    "with `secret:` (variables)"
)


def name_problem(name: str, value: str = "") -> str | None:
    """Why NAME is not the runner's to set for every job, or None. A secret name is judged with its VALUE
    (credential_shapes.holds_secret: `PASSWORD_MIN_LENGTH=12` is a setting, `CACHE_KEY=v2` no key)."""
    upper = name.upper()
    if holds_secret(name, value):
        return _SECRET_MESSAGE.format(name=name)
    for meaning in MEANINGS:
        if meaning.pattern.search(upper):
            return f"{name} changes {meaning.what} for every job; set it in {meaning.instead}"
    return flags_problem(name, value)


FLAGS_NAME = re.compile(r"(?:OPTS|OPTIONS|OPT|FLAGS|ARGS|ARGUMENTS)$")
"""Variables a JVM launcher or a tool splits into its own command-line flags (MAVEN_OPTS, GRADLE_OPTS, SBT_OPTS,
PYTEST_ADDOPTS, MAKEFLAGS): each flag means what it would on the command line of every job."""
_JVM_TUNING = re.compile(
    r"-X(?:mx|ms|ss|mn)[0-9]+[kKmMgGtT]?|-XX:[+-][A-Za-z0-9]+|-XX:[A-Za-z0-9]+=[0-9.]+[kKmMgG%]?"
    r"|-(?:ea|da|esa|dsa|server|client)|-Xshare:[a-z]+|-verbose:[a-z]+"
)
"""JVM flags that only size or tune the VM (heap, stack, GC, assertions): the common content of *_OPTS."""
CODE_FLAGS = re.compile(
    r"^(?:JAVAAGENT|AGENTLIB|AGENTPATH|XBOOTCLASSPATH.*|CP|CLASSPATH|CLASS_PATH|MODULE_PATH|UPGRADE_MODULE_PATH"
    r"|PATCH_MODULE|XRUN.*|XX_ON.*|XX_.*(?:COMMAND|CMD|SCRIPT).*|REQUIRE|IMPORT|LOADER|EXPERIMENTAL_LOADER"
    r"|PRELOAD|INIT_SCRIPT|INIT_SCRIPTS)$"
)
"""Flags that load or run code of their own: JVM agents and class paths, -XX:OnError/OnOutOfMemoryError commands,
node's --require/--import/--loader, Gradle's --init-script."""
_FLAG_MEANINGS = tuple(m for m in MEANINGS if m.what.startswith(("how TLS", "where network", "where packages")))
"""The meanings a flag's name is judged by: TLS, where traffic goes, where packages come from (flag names like
`--path` or `--ci` say nothing about the job's environment)."""


def _tokens(value: str) -> list[str]:
    try:
        return shlex.split(value)
    except ValueError:  # an unbalanced quote: judge the words as they stand
        return value.split()


def flags_problem(name: str, value: str) -> str | None:
    """Why a flags variable (FLAGS_NAME) of NAME carries a flag a runner must not set for every job, or None.
    A `-Dproperty=value` is judged as a variable would be (its name's meaning, a secret name with its value)."""
    if not FLAGS_NAME.search(name.upper()):
        return None
    for token in _tokens(value):
        if not token.startswith("-") or _JVM_TUNING.fullmatch(token):
            continue
        if token.startswith("-D") and len(token) > 2:
            prop, _, setting = token[2:].partition("=")
            normal = re.sub(r"[^A-Z0-9]+", "_", prop.upper()).strip("_")
            if holds_secret(normal, setting):
                return (
                    f"{name}: the property -D{prop} looks like it holds a secret; make it a CI/CD variable (`secret:`)"
                )
            meanings: tuple[Meaning, ...] = MEANINGS
        else:
            flag = token.lstrip("-")
            flag = "XX_" + flag[3:].lstrip("+-") if flag.startswith("XX:") else flag
            prop = re.split(r"[=:]", flag, maxsplit=1)[0]
            normal = re.sub(r"[^A-Z0-9]+", "_", prop.upper()).strip("_")
            if CODE_FLAGS.match(normal):
                return f"{name}: the flag {prop} loads or runs code before the job's own; set it in .gitlab-ci.yml"
            meanings = _FLAG_MEANINGS
        for meaning in meanings:
            if meaning.pattern.search(normal):
                return f"{name}: {prop} changes {meaning.what} for every job; set it in {meaning.instead}"
    return None


def value_problem(name: str, value: str) -> str | None:
    """Why the value of NAME is refused (a credential in any shape), never repeating it; or None."""
    if credential_shape(value):
        return (
            f"the value of {name} looks like a credential (a token, a key, a password or a URL with one); it is not "
            "repeated here and would be stored in plain text: make it a CI/CD variable with `secret:` (variables)"
        )
    return None
