"""Read a stack file the way the Pulumi CLI hands it to the program, without the CLI.

Values under `config:` are passed as strings (structured values as JSON text), keys without a namespace get
the project's, and `{secure: ...}` values become placeholders that the engine still treats as secrets: the
plan never decrypts anything and needs no passphrase.

The file is read strictly and fails closed: UTF-8 text only, at most MAX_BYTES, no duplicate keys (YAML would
silently keep the last; the CLI refuses them too), no unquoted dates (the CLI would pass them reformatted),
no `!!set`, `!!binary` or other typed collections, no key that is not a string, no nesting deeper than
MAX_DEPTH, no more than MAX_VALUES values once aliases are expanded. Every refusal is one line naming the
file, the line and the key; none repeats a value.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.domain.model import OFFLINE_PLACEHOLDER, PROJECT
from components.plan import project_config
from components.spec.keys import MAX_DEPTH
from components.spec.problems import looks_secret, one_line

SECRET_PLACEHOLDER = OFFLINE_PLACEHOLDER + "{key}-{version}"
STACK_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")
"""Pulumi's stack names (the CLI refuses others)."""
MAX_EXPANDED = 4 << 20
"""Characters a stack file may expand to once aliases are expanded (the file itself holds at most 1 MiB)."""
MAX_VALUES = 200_000
"""Values (maps, lists, scalars) a stack file may expand to; a 1000-runner fleet has about 40,000."""
MAX_BYTES = 1 << 20
"""A stack file larger than 1 MiB is refused (a Kubernetes Secret holds at most 1 MiB of config anyway)."""
_REFUSED_TAGS = ("set", "binary", "omap", "pairs")
NONCE_BYTES, TAG_BYTES = 12, 16  # the AES-GCM nonce the CLI draws per value; the tag Seal appends even to ""


def is_ciphertext(text: str) -> bool:
    """Whether `text` is a `secure:` value as the Pulumi CLI writes it with the passphrase or a cloud KMS provider
    (those of a self-managed backend): `v1:<base64 of a 12-byte nonce>:<base64 of the ciphertext and its 16-byte
    tag>`, standard base64 (pulumi sdk/go/common/resource/config/crypt.go, symmetricCrypter). A pasted token
    (`v1:hunter2`, `v1:` + base64 of a token) is not; nor is Pulumi Cloud's bare base64, not told from a pasted one."""
    version, *segments = text.split(":")
    if version != "v1" or len(segments) != 2:
        return False
    try:
        nonce, sealed = (base64.b64decode(segment, validate=True) for segment in segments)
    except ValueError:  # binascii.Error (not base64), or text beyond ASCII
        return False
    # Python accepts padding past the last quad (`AAAA=`), the CLI's Go decoder does not: only the canonical form.
    canonical = [base64.b64encode(nonce).decode(), base64.b64encode(sealed).decode()] == segments
    return canonical and len(nonce) == NONCE_BYTES and len(sealed) >= TAG_BYTES


class StackFileError(Exception):
    """The stack file cannot be read at all (missing, not UTF-8, not YAML, no config map, too deep), or the CLI
    would refuse it against Pulumi.yaml's declarations (`problems`, one line each)."""

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(one_line(message))
        self.problems = tuple(one_line(p) for p in problems)


_BOOL, _INT = "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int"
_BEYOND_64_BITS = 2**64
"""What a number too long for Python's int parser reads as: any number beyond 64 bits, reported as such at its key."""
_AMBIGUOUS_NUMBER = "tag:runner-fleet,2026:ambiguous-number"


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate and non-string keys, typed collections and unquoted dates, and reads
    only true/false as booleans: `yes`, `no`, `on` and `off` are text, as the CLI's YAML 1.2 library reads them."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_BOOL, _INT)]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, int) and not isinstance(key, bool):
                key = str(key)  # as JSON, and so the engine, would have it
            if not isinstance(key, str):
                raise yaml.constructor.ConstructorError(
                    None, None, "a key that is not a string (quote it)", key_node.start_mark
                )
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (YAML would keep only the last)", key_node.start_mark
                )
            seen.add(key)
        mapping = super().construct_mapping(node, deep=deep)
        return {str(k) if isinstance(k, int) else k: v for k, v in mapping.items()}

    def refuse_date(self, node: yaml.Node) -> None:
        # The CLI's YAML library turns 2024-01-01 into "2024-01-01 00:00:00 +0000 UTC": quoted, it stays as written.
        raise yaml.constructor.ConstructorError(
            None, None, "an unquoted date or time: quote it, or the Pulumi CLI passes it reformatted", node.start_mark
        )

    def refuse_number(self, node: yaml.Node) -> None:
        # YAML 1.1 (PyYAML) and the CLI's YAML library read these differently: 2:00:00 is 7200 or text, 0755 is
        # octal or decimal, 1_000 is a number or text. Quoted, or as plain decimal, everyone agrees.
        raise yaml.constructor.ConstructorError(
            None,
            None,
            "an unquoted number that YAML versions read differently (h:mm:ss, a leading 0, '_', 0o, 0b): write "
            "plain decimal, or quote it",
            node.start_mark,
        )

    def construct_int(self, node: yaml.ScalarNode) -> Any:
        # Python reads at most 4,300 digits into an int (sys.int_info.default_max_str_digits); beyond that the
        # number is still beyond 64 bits, so it stands in as one and is reported at its key like any other.
        try:
            return self.construct_yaml_int(node)
        except ValueError:
            return _BEYOND_64_BITS

    def refuse_tag(self, node: yaml.Node) -> None:
        raise yaml.constructor.ConstructorError(
            None,
            None,
            f"{node.tag} is not a value a stack file can hold (write a list, a map or a string)",
            node.start_mark,
        )


_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
for _tag in _REFUSED_TAGS:
    _StrictLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _StrictLoader.refuse_tag)
_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _StrictLoader.refuse_date)
_StrictLoader.add_implicit_resolver(
    _AMBIGUOUS_NUMBER,
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?::[0-5]?[0-9])+|0[0-9_]+|[0-9][0-9_]*_[0-9_]*|0o[0-7_]+|0b[01_]+)$"),
    list("-+0123456789"),
)
_StrictLoader.add_implicit_resolver(
    _INT, re.compile(r"^(?:[-+]?(?:0|[1-9][0-9]*)|0x[0-9a-fA-F]+)$"), list("-+0123456789")
)
_StrictLoader.add_constructor(_AMBIGUOUS_NUMBER, _StrictLoader.refuse_number)
_StrictLoader.add_constructor(_INT, _StrictLoader.construct_int)


_FAST_LOADER: type[_StrictLoader] | None = None
if yaml.__with_libyaml__:  # PyYAML's wheels carry libyaml; a build without it reads with _StrictLoader alone
    from yaml.cyaml import CParser  # type: ignore[attr-defined]

    class _FastStrictLoader(CParser, _StrictLoader):
        """_StrictLoader with libyaml's scanner and parser (ten times faster on a 1000-runner file): the composer,
        the constructor and the resolvers are still _StrictLoader's, in Python, so it builds exactly the same
        values and refuses the same keys, tags and numbers. Only text that libyaml accepts gets this far: anything
        it refuses is read again by _StrictLoader, whose error says where and what (see `_read`)."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)

        # The Python composer, reading libyaml's events (CParser's own composer would build the nodes in C).
        check_node = yaml.composer.Composer.check_node
        get_node = yaml.composer.Composer.get_node
        get_single_node = yaml.composer.Composer.get_single_node

    _FAST_LOADER = _FastStrictLoader


def _yaml_problem(path: Path, exc: yaml.YAMLError) -> str:
    """One line: where and what, never the snippet of the document YAML errors carry."""
    mark = getattr(exc, "problem_mark", None)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
    problem = getattr(exc, "problem", None) or type(exc).__name__
    if isinstance(exc, yaml.reader.ReaderError):  # a control character: name its code point, never the text
        code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        where, problem = f"{path}: character {exc.position}", f"U+{code:04X} is not allowed in YAML text"
    return f"{where}: not a valid stack file: {problem}"


def _scalar_problem(value: Any) -> str | None:
    """A scalar the engine cannot carry: a number beyond 64 bits, text with unpaired UTF-16 surrogates."""
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        return "a number beyond 64 bits"
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "text with an unpaired surrogate escape (\\ud800-\\udfff), which is not UTF-8"
    return None


def _shape_problem(config: Any) -> str | None:
    """What is wrong with the size of `config` as the program would see it, or None: nesting deeper than
    MAX_DEPTH, or more than MAX_VALUES values once YAML aliases are expanded (an alias repeats what it points
    at, so a few lines can stand for billions of values). The walk stops at the first limit it meets."""
    seen = size = 0
    stack: list[tuple[Any, int, str]] = [(config, 0, "")]
    while stack:
        value, depth, at = stack.pop()
        seen += 1
        size += len(value) if isinstance(value, str) else 8
        if seen > MAX_VALUES or size > MAX_EXPANDED:
            return (
                f"expands to more than {MAX_VALUES} values or {MAX_EXPANDED} characters "
                "(YAML aliases repeat what they point at)"
            )
        if depth > MAX_DEPTH:
            return f"config.{at} is nested more than {MAX_DEPTH} levels deep"
        if (problem := _scalar_problem(value)) is not None:
            return f"config.{at}: {problem}"
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, item in items:
            stack.append((item, depth + 1, f"{at}[{key}]" if isinstance(key, int) else f"{at}.{key}" if at else key))
    return None


def _load(path: Path) -> Any:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StackFileError(f"{path}: cannot read the stack file ({exc.strerror})") from exc
    if len(data) > MAX_BYTES:
        raise StackFileError(f"{path}: {len(data)} bytes; a stack file may have at most {MAX_BYTES}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StackFileError(f"{path}: not UTF-8 text (byte {exc.start} cannot be decoded)") from exc
    try:
        return _read(text)
    except yaml.YAMLError as exc:
        raise StackFileError(_yaml_problem(path, exc)) from exc
    except (RecursionError, ValueError) as exc:  # nesting beyond Python's stack; an integer beyond any range
        raise StackFileError(f"{path}: not a valid stack file: nested too deeply or a number too large") from exc


_FAST_TEXT = frozenset(string.ascii_letters + string.digits + " \n\"#$%&'()*+,-./:;<=>@[\\]^_`{|}~")
"""The characters libyaml and PyYAML read alike (fuzzed: tests/plan/test_fast_reader.py): printable ASCII without
tab (libyaml allows it where PyYAML does not), `!` (a bare `!` resolves differently) and `?` (complex keys)..."""
_FAST_UNLIKE = re.compile(r"[|>][-+0-9]*[^-+0-9 \n]")
"""...and no `|` or `>` whose indicators (`-`, `+`, digits) run into anything but a space or a line break
(libyaml reads `|#` and `|2#` as headers with a comment; PyYAML refuses them)."""


def _fast(text: str) -> bool:
    """Whether libyaml reads `text` as PyYAML does (see _FAST_TEXT); otherwise PyYAML alone reads it."""
    return _FAST_TEXT.issuperset(text) and _FAST_UNLIKE.search(text) is None


def _read(text: str) -> Any:
    """The document, read by libyaml when it reads `text` as PyYAML does (`_fast`); whatever libyaml refuses is read
    again by the pure-Python loader, so the value or the error is always PyYAML's, as it has always been."""
    if _FAST_LOADER is None or not _fast(text):
        return yaml.load(text, Loader=_StrictLoader)
    try:
        return yaml.load(text, Loader=_FAST_LOADER)
    except (yaml.YAMLError, RecursionError, ValueError):
        return yaml.load(text, Loader=_StrictLoader)


@dataclass(frozen=True)
class StackFile:
    """A stack file as the engine sees it."""

    path: Path
    """Where it was read from."""
    stack: str
    """The stack name: given, or from the file name (`Pulumi.<stack>.yaml`)."""
    config: Mapping[str, str]
    """Fully qualified key -> string value, as the engine passes them; secrets as placeholders."""
    secret_keys: tuple[str, ...]
    """Fully qualified keys whose values are (or contain) secrets."""
    environments: tuple[str, ...] = ()
    """Pulumi ESC environments the stack imports (`environment:`): they may supply config the file does not set."""

    def with_supplied(self, keys: Iterable[str]) -> StackFile:
        """This stack with placeholders for secret config keys an ESC environment is assumed to supply."""
        added = {f"{PROJECT}:{k}": SECRET_PLACEHOLDER.format(key=f"{PROJECT}:{k}", version="esc") for k in keys}
        return dataclasses.replace(
            self, config={**self.config, **added}, secret_keys=tuple(sorted({*self.secret_keys, *added}))
        )


def read_stack_file(path: Path, stack: str | None = None) -> StackFile:
    """Read `Pulumi.<stack>.yaml` the way the CLI hands it to the program; secure values become placeholders."""
    document = _load(path)
    if document is None:
        document = {}
    if not isinstance(document, dict) or not isinstance(document.get("config", {}), dict):
        raise StackFileError(f"{path}: expected a map with a 'config' map")
    environments = _environments(path, document.get("environment"))
    shape = _shape_problem(document.get("config") or {})
    if shape is not None:
        raise StackFileError(f"{path}: {shape}")
    name = stack or _stack_name(path)
    if not STACK_NAME.fullmatch(name) or looks_secret(name):
        raise StackFileError(
            f"{path}: the stack name (from the file name, Pulumi.<stack>.yaml) must be at most 100 letters, digits, "
            "'-', '_' or '.', as Pulumi's stack names are; it becomes part of names and labels"
        )
    plain_values: dict[str, Any] = {}
    secret_keys: list[str] = []
    for key, value in (document.get("config") or {}).items():
        full = _full_key(path, key)
        if full in plain_values:
            raise StackFileError(f"{path}: config key {key!r} is {full!r} written a second time (keep one)")
        try:
            plain, secret = _unsecure(value, full)
        except StackFileError as exc:  # name the file too, as every other refusal here does
            raise StackFileError(f"{path}: {exc}") from None
        plain_values[full] = plain
        if secret:
            secret_keys.append(full)
    injected, problems = project_config.apply(name, plain_values, set(secret_keys), project_config.declarations())
    if problems:
        raise StackFileError(f"{path}: the Pulumi CLI would refuse this stack (Pulumi.yaml's config)", tuple(problems))
    config = {k: v if isinstance(v, str) else json.dumps(v) for k, v in plain_values.items()}
    return StackFile(
        path=path,
        stack=name,
        config={**config, **injected},
        secret_keys=tuple(secret_keys),
        environments=environments,
    )


ESC_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,199}(@[A-Za-z0-9._-]{1,100})?")
"""An ESC environment reference: [project/]name[@version]."""


def _environments(path: Path, raw: object) -> tuple[str, ...]:
    """`environment:` of a stack file: a list of Pulumi ESC environment names (or none)."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(e, str) and ESC_NAME.fullmatch(e) for e in raw):
        raise StackFileError(f"{path}: 'environment' must be a list of Pulumi ESC environment names ([project/]name)")
    return tuple(raw)


_LEGACY_KEY = re.compile(r"([^:]+):config:([^:]+)")


def _full_key(path: Path, key: str) -> str:
    """A config key as the CLI parses it (pulumi sdk/go/common/resource/config/key.go, ParseKey): `name` is the
    project's, `ns:name` as written, the legacy `ns:config:name` is `ns:name`; anything else is refused."""
    if ":" not in key:
        return f"{PROJECT}:{key}"
    if (legacy := _LEGACY_KEY.fullmatch(key)) is not None:
        return f"{legacy[1]}:{legacy[2]}"
    namespace, _, name = key.partition(":")
    if key.count(":") != 1 or not namespace or not name:
        raise StackFileError(f"{path}: config key {key!r} is not <namespace>:<name>, which the Pulumi CLI refuses")
    return key


def _stack_name(path: Path) -> str:
    stem = path.name
    for suffix in (".yaml", ".yml"):
        stem = stem.removesuffix(suffix)
    return stem.removeprefix("Pulumi.") or "dev"


def _unsecure(value: Any, key: str) -> tuple[Any, bool]:
    """Replace `{secure: ...}` (at any depth) by a placeholder; report whether the key holds a secret."""
    if isinstance(value, dict) and set(value) == {"secure"}:
        if not isinstance(value["secure"], str) or not value["secure"]:
            # Pulumi treats only {secure: <ciphertext string>} as a secret; anything else would reach the program
            # as a plain map.
            raise StackFileError(f"{key}: a secure value is Pulumi's ciphertext string (pulumi config set --secret)")
        if not is_ciphertext(value["secure"]):
            # The offline plan never decrypts: without this, a pasted plaintext under `secure:` would be planned
            # as a secret and committed. Never repeat it: it may be the secret itself.
            raise StackFileError(
                f"{key}: a secure value must be a ciphertext as `pulumi config set --secret` writes it (v1:<base64 "
                "12-byte nonce>:<base64 ciphertext with its 16-byte tag>); this one is not (not repeated here): if it "
                "is a plaintext secret, consider it exposed, rotate it and set it with --secret"
            )
        # The ciphertext's digest tells one committed secret from the next (the impact report sees a rotation);
        # a digest of ciphertext reveals nothing of the value.
        version = hashlib.sha256(str(value["secure"]).encode()).hexdigest()[:12]
        return SECRET_PLACEHOLDER.format(key=key, version=version), True
    if isinstance(value, dict):
        pairs = {k: _unsecure(v, key) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(s for _, s in pairs.values())
    if isinstance(value, list):
        items = [_unsecure(v, key) for v in value]
        return [v for v, _ in items], any(s for _, s in items)
    return value, False
