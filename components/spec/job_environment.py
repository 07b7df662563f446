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
from dataclasses import dataclass

from components.spec.credential_shapes import random_looking, secret_name, url_userinfo
from components.spec.problems import looks_like_credential


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
            "^(?:NODE_PATH|JAVA_TOOL_OPTIONS|_JAVA_OPTIONS|JDK_JAVA_OPTIONS|GCONV_PATH|GOFLAGS)$",
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
        ),
    ),
    Meaning(
        "what the runner, GitLab or the executor do (predefined CI_*/GITLAB_* variables, KUBERNETES_* and "
        "DOCKER_* overwrites and engine settings)",
        "the runner's own keys in the stack file",
        _any("^CI$", "^CI_", "^GITLAB_", "^KUBERNETES_", "^DOCKER_"),
    ),
)
"""Meanings a runner never sets for every job, in the order they are tried."""


def name_problem(name: str) -> str | None:
    """Why NAME is not the runner's to set for every job, or None."""
    upper = name.upper()
    if secret_name(name):
        return (
            f"{name} looks like it holds a secret, which config.toml would carry in plain text; make it a "
            "CI/CD variable with `secret:` (variables)"
        )
    for meaning in MEANINGS:
        if meaning.pattern.search(upper):
            return f"{name} changes {meaning.what} for every job; set it in {meaning.instead}"
    return None


def value_problem(name: str, value: str) -> str | None:
    """Why the value of NAME is refused (a credential in any shape), never repeating it; or None."""
    if looks_like_credential(value) or url_userinfo(value) or random_looking(value):
        return (
            f"the value of {name} looks like a credential (a token, a key or a URL with a password); it is not "
            "repeated here and would be stored in plain text: make it a CI/CD variable with `secret:` (variables)"
        )
    return None
