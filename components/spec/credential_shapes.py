"""What looks like a credential beyond the known token formats: a name that says it holds one, a URL with
userinfo written in any characters, a `user:password@host` without a scheme, a connection string's password,
a password on a command line, and a value too random to be anything but a key.

`problems.looks_like_credential` knows the formats (glrt-, AKIA..., PEM blocks, userinfo, connection strings);
this module generalizes it for the places where careless input is most likely (a job environment, a script, a
variable's plain value, a URL pasted from a browser). A credential is reported by naming its key, never by
repeating it. URL syntax: RFC 3986 section 3.2.1 (userinfo); users paste URLs that break it (a '/' or a space in
the password), so userinfo is found as a lenient parser finds it.

A name that says it holds a secret is judged with its value: `PASSWORD_MIN_LENGTH=12` is a setting about
passwords and `CACHE_KEY=v2` a cache key, not a credential. A setting word at the end of the name (`_LENGTH`,
`_POLICY`, `_FILE`...) admits only that setting's shape of value (a number, a short word, a path); a name whose
only secret word is a trailing `KEY` (which names lookup keys as often as keys of a cipher) admits only values no
key can be (a number, a version, `true`, `$OTHER_VARIABLE`). Every other secret name is refused whatever its
value, and every value is checked for credential shapes as well.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,31}://")
_PORT_THEN_PATH = re.compile(r"[0-9]{1,5}(?:[/?#]|\Z)")
_RANDOM_RUN = re.compile(r"[A-Za-z0-9+/=_~.-]{16,}")
_HEX_OR_UUID = re.compile(r"[0-9a-fA-F-]+")
_WORD = re.compile(r"[A-Z]?[a-z]{3,}")

SECRET_PARTS = ("SECRET", "PASSWORD", "PASSWD", "PASSPHRASE", "CREDENTIAL", "APIKEY", "PRIVATEKEY", "ACCESSKEY")
"""Name fragments that say a secret follows, wherever they stand (DBPASSWORD, MY_SECRET_X, GPG_PASSPHRASE)."""
SECRET_WORDS = frozenset(
    {"PASS", "PWD", "PW", "PIN", "AUTH", "OAUTH", "AUTHTOKEN", "AUTHORIZATION", "BEARER", "COOKIE"}
)
"""Whole words of a NAME_LIKE_THIS that say a secret follows (DB_PASS, SMTP_PWD, REDIS_PW, NPM_AUTH); whole words
only, so PWM_CHANNEL or PINNED_VERSION say nothing."""
KEY_PAIRS = frozenset(
    {"PRIVATE", "API", "ACCESS", "SECRET", "SIGNING", "ENCRYPTION", "MASTER", "LICENSE", "SSH", "DEPLOY", "GPG"}
)
"""Words that make the next word KEY a secret key wherever it stands (AWS_SECRET_ACCESS_KEY_B64)."""
_TOKEN = re.compile(r"TOKEN(?!IZ)")  # TOKENIZERS_PARALLELISM names a setting, not a token

_COUNT = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,3})?(?:ms|s|m|h|d|w|k|K|M|G|%|min|days?)?")
_SWITCH = frozenset({"true", "false", "yes", "no", "on", "off", "enabled", "disabled", "0", "1"})
_KIND = re.compile(r"(?=.{1,20}\Z)[A-Za-z][A-Za-z0-9]*(?:[._-][A-Za-z0-9]+){0,2}")  # strict, aes-256-gcm, RS256
_PATH = re.compile(r"(?:/|~/|\./|\.\./|\$)[^\s;&|`'\"]*")
_VERSION = re.compile(r"[vV]?[0-9]{1,4}(?:\.[0-9]{1,4}){0,3}")
_REFERENCE = re.compile(r"\$(?:\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)")

SETTING_WORDS = {
    **dict.fromkeys(
        [
            "LENGTH",
            "LEN",
            "MIN",
            "MAX",
            "MINIMUM",
            "MAXIMUM",
            "TTL",
            "EXPIRY",
            "EXPIRES",
            "EXPIRATION",
            "LIFETIME",
            "AGE",
            "TIMEOUT",
            "DAYS",
            "HOURS",
            "MINUTES",
            "SECONDS",
            "COUNT",
            "RETRIES",
            "SIZE",
            "BITS",
            "INTERVAL",
        ],
        "count",
    ),
    **dict.fromkeys(("ENABLED", "DISABLED", "REQUIRED", "ENABLE", "DISABLE"), "switch"),
    **dict.fromkeys(("POLICY", "TYPE", "ALGORITHM", "ALG", "FORMAT", "ENCODING", "MODE", "NAME", "PROVIDER"), "kind"),
    **dict.fromkeys(("FILE", "PATH", "DIR", "FILENAME"), "path"),
}
"""Last words that make a secret name a setting about secrets, and the shape its value must have: `count` (a
number or duration), `switch` (a boolean), `kind` (one short word) or `path` (absolute, `./`, `~/` or
`$VARIABLE`; `/run/secrets/db` points to a secret file, which is fine)."""


def _words(name: str) -> list[str]:
    return [w for w in re.split(r"[^A-Z0-9]+", name.upper()) if w]


def _strong_secret_name(name: str) -> bool:
    upper = name.upper()
    words = _words(name)
    if any(part in upper.replace("_", "") for part in SECRET_PARTS) or _TOKEN.search(upper):
        return True
    if SECRET_WORDS & set(words) and upper != "PWD":  # PWD alone is the shell's working directory
        return True
    return any(a in KEY_PAIRS and b in ("KEY", "KEYS") for a, b in itertools.pairwise(words))


def secret_name(name: str) -> bool:
    """Whether a variable NAME says it holds a secret: *_PASSWORD*, *SECRET*, *TOKEN*, *PASSPHRASE*, *_PWD, *_PW,
    *_KEY (as the last word, or after PRIVATE, API, ACCESS...), in any case."""
    words = _words(name)
    return _strong_secret_name(name) or (len(words) > 1 and words[-1] in ("KEY", "KEYS"))


def _shaped(shape: str, value: str) -> bool:
    if shape == "count":
        return bool(_COUNT.fullmatch(value)) or value.lower() in _SWITCH
    if shape == "switch":
        return value.lower() in _SWITCH
    if shape == "kind":
        return bool(_KIND.fullmatch(value)) and not random_looking(value)
    return bool(_PATH.fullmatch(value))


def _no_key_can_be(value: str) -> bool:
    """A value too plain to be a key: a number, a version, a switch, `$OTHER` references joined by separators."""
    literal = _REFERENCE.sub("", value).strip("-_./:")
    return not literal or literal.lower() in _SWITCH or bool(_VERSION.fullmatch(literal))


def holds_secret(name: str, value: str) -> bool:
    """Whether NAME=VALUE says it holds a secret: a secret name, unless it names a setting about secrets with a
    value of that setting's shape, or a lookup key (`CACHE_KEY`) with a value no key can be. A value made only of
    `$OTHER_VARIABLE` references holds nothing to leak."""
    if not secret_name(name) or (value and not _REFERENCE.sub("", value).strip("\"'")):
        return False
    words = _words(name)
    shape = SETTING_WORDS.get(words[-1]) or ("count" if {"MIN", "MAX"} & set(words) else None)
    if shape is not None and _shaped(shape, value):
        return False
    return _strong_secret_name(name) or not _no_key_can_be(value)


def url_userinfo(text: str) -> bool:
    """Whether `text` holds a URL with a password, or with a user name that is itself a token.

    Lenient on purpose: everything between `scheme://` and the last '@' of the line counts as userinfo when it
    has a ':' that is not a port, so a password with '/', spaces, '@' or percent-escapes is still found.
    """
    for match in _SCHEME.finditer(text):
        # The URL ends at a line end, a quote or bracket, or where the next URL starts (JSON holds several).
        line = re.split(r"[\n\"'<>`{}\[\]]|[A-Za-z][A-Za-z0-9+.-]{0,31}://", text[match.end() :], maxsplit=1)[0]
        if "@" not in line:
            continue
        userinfo = line[: line.rfind("@")]
        user, colon, password = userinfo.partition(":")
        if colon and not re.search(r"[/\s]", user) and not _PORT_THEN_PATH.match(password):
            return True
        authority = line.split("/", 1)[0]
        if "@" in authority and random_looking(authority[: authority.rfind("@")]):
            return True  # https://<token>@host: the token as the user name
    return False


def _entropy(text: str) -> float:
    """Shannon entropy of `text` in bits per character."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def random_looking(text: str) -> bool:
    """Whether `text` holds a run of 16+ token characters as random as a generated key: letters of both cases
    and digits mixed, close to the most entropy a string of that length can have, and not made of words.

    Hex strings and UUIDs are left alone (digests, commit ids and object ids are hex); so are words, paths,
    CamelCase names and version strings, whose letters mostly stand in runs of lower case (`MaxMetaspaceSize`).
    """
    for run in _RANDOM_RUN.findall(text):
        if _HEX_OR_UUID.fullmatch(run):
            continue
        for piece in re.split(r"[._~-]", run):
            classes = sum(any(test(c) for c in piece) for test in (str.islower, str.isupper, str.isdigit))
            if len(piece) < 16 or classes < 3:
                continue
            in_words = sum(len(word) for word in _WORD.findall(piece))
            if in_words < 0.5 * len(piece) and _entropy(piece) >= math.log2(min(len(piece), 62)) - 1:
                return True
    return False


# --- Credentials written without a scheme, in connection strings and on command lines -------------------------

_URI_WITHOUT_SLASHES = frozenset({"mailto", "tel", "urn", "sip", "sips", "xmpp", "news", "data", "im"})
"""Schemes written `scheme:rest` (RFC 3986 allows it): `mailto:ops@acme.test` names a mailbox, not user:password."""
_BARE_USERINFO = re.compile(
    r"(?:^|[\s=;(,\"'])(?://)?(?P<user>[^\s:@/;=(),\"']{1,256}):(?!//)(?P<password>[^\s@\"']{1,256})"
    r"@(?!sha(?:1|224|256|384|512):)[A-Za-z0-9\[(/]"  # image@sha256:<digest> pins an image, it is no password
)
_CONNECTION_PASSWORD = re.compile(r"(?i)(?:^|[;\s?&,])(?:password|passwd|pwd)\s*=\s*(?![\s;&$]|\Z)")
"""ADO.NET/ODBC (`Password=...;`), libpq (`password=... host=...`) and JDBC query (`?password=...`) forms."""


def bare_userinfo(text: str) -> bool:
    """Whether `text` holds `user:password@host` without a `scheme://`: a Go MySQL DSN (`user:pw@tcp(db)/app`),
    a scheme-relative URL (`//user:pw@host`), a connection target pasted without its scheme."""
    for match in _BARE_USERINFO.finditer(text):
        if match["user"].lower() not in _URI_WITHOUT_SLASHES and not _REFERENCE.fullmatch(match["password"]):
            return True
    return False


def connection_string_password(text: str) -> bool:
    """Whether `text` holds a `password=`/`pwd=`/`passwd=` pair with a literal value (a `$VARIABLE` reference
    is no password in plain text)."""
    return bool(_CONNECTION_PASSWORD.search(text))


_QUOTED = r"""(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^\s;&|)'"]+))"""
_PASSWORD_OPTION = re.compile(
    r"(?:^|\s)--(?:[a-z]+-)?(?:password|passwd|pass|token|api-?key|auth-token)(?P<sep>=|\s+)" + _QUOTED
)
"""`--password X`, `--password=X`, `--http-password=X`, `--token X` (mysql, docker login, wget, glab, ...);
`--password-stdin` and `--token-file` are different options and do not match."""
_USER_PASSWORD_OPTION = re.compile(r"(?:^|\s)(?:-u|-U|--user|--proxy-user|-a|--auth)(?:=|\s+)" + _QUOTED)
_HTTP_CLIENT = re.compile(r"(?:^|[\s;&|(/])(?:curl|wget|http|https)(?:\s|$)")
_ATTACHED_P = re.compile(r"(?:^|\s)-p" + _QUOTED)
_MYSQL = re.compile(r"(?:^|[\s;&|(/])(?:mysql\w*|mariadb\w*)(?:\s|$)")
_SEPARATE_P = re.compile(r"(?:^|\s)-p\s+" + _QUOTED)
_LOGIN = re.compile(r"(?:^|\s)(?:login|sshpass)(?:\s|$)")
_OPENSSL_PASS = re.compile(r"(?:^|\s)-pass(?:in|out)?\s+['\"]?pass:")
_AUTH_HEADER = re.compile(
    r"(?i)(?:authorization|proxy-authorization|private-token|job-token|deploy-token|x-api-key|api-key|"
    r"x-auth-token|x-vault-token)\s*:\s*(?:(?:bearer|basic|token|digest)\s+)?(?![\s'\"$]|\Z)"
)
_ASSIGNMENT = re.compile(
    r"(?:^|[\s;&|(])(?:export\s+|local\s+|readonly\s+|declare\s+(?:-\w+\s+)?)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)="
    + _QUOTED.replace(r"[^\s;&|)'\"]+", r"[^\s;&|)'\"]*")
)


def _literal(match: re.Match[str], *, attached: bool = False) -> str:
    """The quoted or bare value of a `_QUOTED` match; "" when it is only `$VARIABLE` references (a value the job
    takes from its own variables is not written here) or, unless `attached` (`-p-x` is the password `-x`), the
    next option (`--password --next`)."""
    value = next((match[g] for g in ("dq", "sq", "bare") if match[g] is not None), "")
    option = value.startswith("-") and not attached
    return "" if option or not _REFERENCE.sub("", value).strip("\"'") else value


def _user_password(match: re.Match[str]) -> bool:
    """`user:password` with a literal password (`-u "$USER:$PASS"` takes both from variables)."""
    _, colon, password = _literal(match).partition(":")
    return bool(colon and _REFERENCE.sub("", password))


def command_credential(script: str) -> bool:
    """Whether a shell script passes a credential literally: `--password X`, `curl -u user:pw`, `mysql -pX`,
    `docker login -p X`, `openssl -pass pass:X`, an `Authorization:` header, or `DB_PASSWORD=X cmd` / `export`.

    Options are matched where they carry a value: `mysql -p` alone prompts, `mkdir -p` and `docker run -u 1000:1000`
    are not credentials, so `-u user:pw` counts only on an HTTP client's line and `-p` only on mysql's or a login's.
    """
    for line in script.splitlines():
        found = [m for m in _PASSWORD_OPTION.finditer(line) if _literal(m, attached=m["sep"] == "=")]
        if _HTTP_CLIENT.search(line):
            found += [m for m in _USER_PASSWORD_OPTION.finditer(line) if _user_password(m)]
        if _MYSQL.search(line):
            found += [m for m in _ATTACHED_P.finditer(line) if _literal(m, attached=True)]
        if _LOGIN.search(line):
            found += [m for m in _SEPARATE_P.finditer(line) if _literal(m)]
        if found or _OPENSSL_PASS.search(line) or _AUTH_HEADER.search(line):
            return True
        if any(_literal(m) and holds_secret(m["name"], _literal(m)) for m in _ASSIGNMENT.finditer(line)):
            return True
    return False
