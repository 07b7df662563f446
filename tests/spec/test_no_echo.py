"""No echo, nothing raw (issue 19, parts 10 and 12).

- A URL password never reaches a message, whatever it holds: `/`, spaces, `@`, `%`, `:`, `#`, `?`, non-ASCII, bidi
  controls, another `scheme://`. The rule (components/spec/safe_text.py `redact_userinfo`) does not parse: URL
  parsers disagree on where such an authority ends (urllib reads `https://u:p/w@h` as host `u`, port `p`).
- No message line holds a control or invisible formatting character raw (`escape_controls`, applied by `one_line`
  to every problem).
Each is checked on the functions (generated cases) and through `parse_spec` on every key that takes a URL.
"""

from __future__ import annotations

import copy
import unicodedata
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.spec import SpecError, parse_spec
from components.spec.problems import one_line
from components.spec.safe_text import UNSAFE_CATEGORIES, escape_controls, redact_userinfo, url_error
from tests.fleets import FLEET, K8S_FLEET
from tests.harness import plan_command

CANARY = "kX9wQ"
"""The core of every generated password: it must never be shown, whatever surrounds it."""
HOSTILE = "/ @%:#?[]'\"\\é日\u202e\t" + "ab12"
_password = st.builds(lambda a, b: a + CANARY + b, st.text(HOSTILE, max_size=8), st.text(HOSTILE, max_size=8))
_user = st.text("abc_.-%@: /", max_size=6)
_scheme = st.sampled_from(["https", "http", "ssh", "tcp", "socks5h", "git+ssh", "HTTPS"])
_host = st.sampled_from(["gitlab.acme.test", "10.0.0.1:8443", "[::1]:2376", "h"])
_shape = st.sampled_from(["found {!r}, expected ...", "{}", "proxy {} is refused", "'{}' and ssh://ci@edge-1"])


def _raw_controls(text: str) -> set[str]:
    return {c for c in text if unicodedata.category(c) in UNSAFE_CATEGORIES}


@settings(max_examples=400, deadline=None)
@given(_scheme, _user, _password, _host, _shape)
def test_a_url_password_is_never_echoed(scheme: str, user: str, password: str, host: str, shape: str) -> None:
    url = f"{scheme}://{user}:{password}@{host}/path"
    line = one_line(shape.format(url))
    assert CANARY not in line and CANARY not in redact_userinfo(shape.format(url))
    assert not _raw_controls(line)


@settings(max_examples=200, deadline=None)
@given(_scheme.filter(lambda s: s != "ssh"), _password, _host)
def test_a_password_without_a_user_is_hidden_too(scheme: str, password: str, host: str) -> None:
    """A token given as the user (`https://<token>@host`, as GitHub and GitLab accept) is hidden; only a plain
    ssh:// user name is shown (ssh URLs carry no password)."""
    assert CANARY not in one_line(f"value {scheme}://{password}@{host}")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("ssh://ci@edge-1.acme.test", "ssh://ci@edge-1.acme.test"),  # a plain ssh user is no secret
        ("tcp://edge-2.acme.test:2376", "tcp://edge-2.acme.test:2376"),
        ("expected ssh://user@host[:port], tcp://host:port", "expected ssh://user@host[:port], tcp://host:port"),
        ("https://u:p/w d@h/x", "https://[secret]@h/x"),
        ("ssh://ci:pw@h", "ssh://[secret]@h"),
        ("https://token@h", "https://[secret]@h"),
        ("ssh://ci@h, https://u:p@y", "ssh://ci@h, https://[secret]@y"),
        ("https://u:a://b@h", "https://[secret]@h"),
    ],
)
def test_what_userinfo_redaction_keeps_and_hides(text: str, shown: str) -> None:
    assert redact_userinfo(text) == shown


@pytest.mark.parametrize(
    "url", ["https://u:hunter2/x@h", "http://[::1:80", "https://h:99999", "ssh://u:pa ss/w@h:22", "https://h:x/"]
)
def test_urllib_complaints_are_described_not_quoted(url: str) -> None:
    from urllib.parse import urlsplit

    try:
        urlsplit(url).port  # noqa: B018
    except ValueError as exc:
        described = url_error(exc)
    else:
        pytest.skip("urllib accepts it")
    assert "hunter2" not in described and "pa ss" not in described and url not in described


@settings(max_examples=400, deadline=None)
@given(st.text(st.characters(codec=None, categories=None), max_size=60))
def test_no_control_character_is_ever_written_raw(text: str) -> None:
    assert not _raw_controls(escape_controls(text))
    assert not _raw_controls(one_line(text))
    assert _raw_controls(escape_controls(text, keep="\n")) <= {"\n"}


@pytest.mark.parametrize("text", ["plain ascii", "accents é à ü", "日本語", "emoji 🚀", "tab-free"])
def test_printable_text_is_left_as_it_is(text: str) -> None:
    assert escape_controls(text) == text


CONTROLS = ["\x1b[2J", "\x1b]0;pwn\x07", "\r", "\x00", "\x9b", "\u202e", "\u2066", "\u200b", "\u2028", "\x85"]


# Through the parser, on every key that takes a URL -----------------------------------------------------------------


def _values(key: str, url: str) -> dict[str, Any]:
    values = copy.deepcopy(FLEET)
    if key == "gitlabUrl":
        values["gitlabUrl"] = url
    elif key == "docker":
        values["hosts"]["edge-1"]["docker"]["host"] = url
    elif key == "proxy":
        values["hosts"]["edge-1"]["proxy"] = {"https": url}
    elif key == "cache":
        values["cache"] = {"type": "s3", "s3": {"bucketName": "ci-cache", "serverAddress": url}}
    elif key == "mirror":
        values["registryMirror"] = url
    return values


def _lines(values: dict[str, Any], other: dict[str, str | None] | None = None) -> list[str]:
    try:
        spec = parse_spec(values, stack="test", other_config=other)
    except SpecError as exc:
        return [*exc.problems, str(exc)]
    return list(spec.warnings)


URL_KEYS = ["gitlabUrl", "docker", "proxy", "cache", "mirror", "gitlab:baseUrl"]


def _parsed(key: str, url: str) -> list[str]:
    if key == "gitlab:baseUrl":
        return _lines(copy.deepcopy(FLEET), {"gitlab:baseUrl": url})
    return _lines(_values(key, url))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(URL_KEYS), _scheme, _user, _password, _host)
def test_no_url_key_echoes_a_password(key: str, scheme: str, user: str, password: str, host: str) -> None:
    for line in _parsed(key, f"{scheme}://{user}:{password}@{host}"):
        assert CANARY not in line, (key, line)
        assert not _raw_controls(line.replace("\n", "")), (key, line)


@pytest.mark.parametrize("key", URL_KEYS)
@pytest.mark.parametrize("control", CONTROLS, ids=[f"U+{ord(c[0]):04X}" for c in CONTROLS])
def test_no_url_key_writes_a_control_raw(key: str, control: str) -> None:
    lines = _parsed(key, f"https://gitlab{control}.acme.test")
    assert lines, "a URL with a control character is refused"
    for line in lines:
        assert not _raw_controls(line.replace("\n", "")), (key, line)


@pytest.mark.parametrize("control", CONTROLS, ids=[f"U+{ord(c[0]):04X}" for c in CONTROLS])
@pytest.mark.parametrize("where", ["host key", "runner key", "tag", "unknown key"])
def test_keys_and_values_with_controls_are_escaped_in_problems(control: str, where: str) -> None:
    values = copy.deepcopy(FLEET)
    name = f"bad{control}name"
    if where == "host key":
        values["hosts"][name] = values["hosts"].pop("edge-3")
        values["runners"]["release"]["host"] = name
    elif where == "runner key":
        values["runners"][name] = values["runners"].pop("docs")
    elif where == "tag":
        values["runners"]["unit"]["tags"] = [name]
    else:
        values["runners"]["unit"][name] = True
    lines = _lines(values)
    assert lines, "refused"
    for line in lines:
        assert not _raw_controls(line.replace("\n", "")), line


_IMAGE_SHAPES = [
    "u:{}@registry.acme.test/x:1",
    "registry.acme.test/x:{}@sha256:abc",
    "registry.acme.test:5000/x:1:{}",
    "{}@registry.acme.test/gitlab/gitlab-runner:alpine-v19.3.0",
]


@settings(max_examples=200, deadline=None)
@given(
    shape=st.sampled_from(_IMAGE_SHAPES),
    password=_password,
    where=st.sampled_from(["image", "allowedImages", "runnerImage", "buildkitImage"]),
)
def test_an_image_reference_with_a_credential_is_never_repeated(shape: str, password: str, where: str) -> None:
    """A registry password put into an image reference (in front of the registry, after a tag) is refused without
    being shown, wherever an image is named."""
    values = copy.deepcopy(FLEET)
    image = shape.format(password)
    runner = values["runners"]["unit"]
    if where == "runnerImage":
        values["hosts"]["edge-1"]["runnerImage"] = image
    elif where == "allowedImages":
        runner["allowedImages"] = [image]
    elif where == "buildkitImage":
        values["runners"]["images"]["allowedImages"] = [image]
    else:
        runner["image"] = image
    with pytest.raises(SpecError) as error:
        parse_spec(values, stack="test")
    assert not any(CANARY in line for line in error.value.problems), error.value.problems


# Credentials without a scheme, in every place a plain value lands (F1) ------------------------------------------

_plain_password = st.builds(
    lambda a, b: a + CANARY + b, st.text("abc12!#%^*+~.-_", max_size=8), st.text("abc12!#%^*+~.-_", max_size=8)
)
_SHAPES = [
    "{user}:{pw}@tcp(db:3306)/app",
    "//{user}:{pw}@db.acme.test/app",
    "Server=db;User Id={user};Password={pw};",
    "host=db user={user} password={pw}",
    "curl -u {user}:{pw} https://x.acme.test",
    "mysql -u {user} -p{pw} app",
    "mysql --password={pw} app",
]


def _placed(where: str, text: str) -> dict[str, Any]:
    values = copy.deepcopy(FLEET)
    if where == "variable":
        values["variables"] = [{"group": "acme", "key": "SETTING", "value": text, "masked": True}]
    elif where == "environment":
        values["runners"]["unit"]["extraConfig"] = 'environment = ["SETTING=' + text.replace('"', "") + '"]\n'
    else:
        values["runners"]["unit"]["extraConfig"] = "pre_build_script = '" + text.replace("'", "") + "'\n"
    return values


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["variable", "environment", "script"]), st.sampled_from(_SHAPES), _plain_password)
def test_a_schemeless_credential_is_refused_and_never_echoed(where: str, shape: str, password: str) -> None:
    lines = _lines(_placed(where, shape.format(user="app", pw=password)))
    assert any(line.startswith(("variables[0].value:", "runners.unit.extraConfig.")) for line in lines), lines
    assert all(CANARY not in line for line in lines), lines


RANDOM_KEY = "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY"


@pytest.mark.parametrize(
    ("where", "path"),
    [
        (("runners", "lint", "tags"), "runners.lint.tags[0]"),
        (("hosts", "cluster", "kubernetes", "context"), "hosts.cluster.kubernetes.context"),
        (("runners", "lint", "scope"), "runners.lint.scope.group"),
    ],
)
def test_a_random_key_pasted_where_a_name_belongs_is_refused_unrepeated(where: tuple[str, ...], path: str) -> None:
    """A generated key (letters of both cases and digits, as random as its length allows) is no tag or context:
    refused at its key, never written to the plan or repeated."""
    values = copy.deepcopy(K8S_FLEET)
    node: Any = values
    for part in where[:-1]:
        node = node[part]
    node[where[-1]] = {"tags": [RANDOM_KEY], "scope": {"group": RANDOM_KEY}}.get(where[-1], RANDOM_KEY)
    with pytest.raises(SpecError) as error:
        parse_spec(values, stack="test")
    assert any(line.startswith(f"{path}: looks like a credential") for line in error.value.problems), error.value
    assert not any(RANDOM_KEY in line for line in error.value.problems)


def test_a_token_given_as_now_is_not_repeated() -> None:
    done = plan_command(
        "--stack-file", "stacks/Pulumi.dev.yaml", "--out", "/nonexistent/x", "--now", "glpat-" + "a" * 20
    )
    assert done.returncode == 2 and "--now" in done.stderr and "glpat-" not in done.stderr + done.stdout
