"""What looks like a credential beyond the known token formats: a name that says it holds one, a URL with
userinfo written in any characters, and a value too random to be anything but a key.

`problems.looks_like_credential` knows the formats (glrt-, AKIA..., PEM blocks); this module generalizes it for
the places where careless input is most likely (a job environment, a URL pasted from a browser). A credential
is reported by naming its key, never by repeating it. URL syntax: RFC 3986 section 3.2.1 (userinfo); users
paste URLs that break it (a '/' or a space in the password), so userinfo is found as a lenient parser finds it.
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
SECRET_WORDS = frozenset({"PASS", "PWD", "PIN", "AUTH", "OAUTH", "AUTHTOKEN", "AUTHORIZATION", "BEARER", "COOKIE"})
"""Whole words of a NAME_LIKE_THIS that say a secret follows (DB_PASS, SMTP_PWD, NPM_AUTH)."""
KEY_PAIRS = frozenset({"PRIVATE", "API", "ACCESS", "SECRET", "SIGNING", "ENCRYPTION", "MASTER", "LICENSE", "SSH"})
"""Words that make the next word KEY a secret key wherever it stands (AWS_SECRET_ACCESS_KEY_B64)."""
_TOKEN = re.compile(r"TOKEN(?!IZ)")  # TOKENIZERS_PARALLELISM names a setting, not a token


def secret_name(name: str) -> bool:
    """Whether a variable NAME says it holds a secret: *_PASSWORD*, *SECRET*, *TOKEN*, *PASSPHRASE*, *_PWD,
    *_KEY (as the last word, or after PRIVATE, API, ACCESS...), in any case."""
    upper = name.upper()
    words = [w for w in re.split(r"[^A-Z0-9]+", upper) if w]
    if any(part in upper.replace("_", "") for part in SECRET_PARTS) or _TOKEN.search(upper):
        return True
    if SECRET_WORDS & set(words) and upper != "PWD":  # PWD alone is the shell's working directory
        return True
    if words and words[-1] in ("KEY", "KEYS") and len(words) > 1:
        return True
    return any(a in KEY_PAIRS and b in ("KEY", "KEYS") for a, b in itertools.pairwise(words))


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
