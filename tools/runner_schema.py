"""Derive the JSON Schema of gitlab-runner's config.toml from the runner's own Go source at a release tag.

    .venv/bin/python tools/runner_schema.py --tag v19.4.0 --source ~/src/gitlab-runner [--out schemas] [--drop-others]

`--source` is a gitlab-runner checkout: a work tree checked out at the tag, or a git directory (bare or not) that
holds the tag (read with `git show`, nothing is checked out). Writes `<out>/gitlab-runner-<tag>-config.schema.json`
and rewrites `<out>/SHA256SUMS` (`sha256sum *.json` of that directory); `--drop-others` first deletes the other
`gitlab-runner-*-config.schema.json` files there (a version bump: the project vendors one). Stdlib only; no Go
toolchain. The rest of a bump is the checklist in schemas/README.md.

How the schema is derived (this reproduces the vendored v19.3.0 schema byte for byte, a test holds it):
- the root is `common.Config` (common/config.go); a struct type becomes a closed object (`additionalProperties:
  false`) under `$defs["<package>.<Type>"]`, every named type reached from it likewise (a non-struct named type
  holds its underlying type's schema);
- a field's key is the name in its `toml:"..."` tag; a field without a toml tag, or tagged `-`, is not a key;
  an embedded struct without a tag lends its keys to the struct that embeds it;
- Go types map to JSON types: string, bool, integers, floats; slices and arrays to arrays, `map[string]V` to objects
  of V; pointers to what they point to; `time.Duration` to a string or an integer (the runner reads both);
  `StringOrArray` to a string or a list of strings (its UnmarshalTOML takes both);
- types of packages outside `PACKAGES` (Kubernetes API, Docker, `time.Time`, other runner packages), `any` and
  types declared in a `type ( ... )` group accept anything (`{}`).
Only the types reached from the root are written.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODULE = "gitlab.com/gitlab-org/gitlab-runner"
PACKAGES = ("common", "cache/cacheconfig", "common/config/runner", "common/config/runner/monitoring", "referees")
"""The runner's packages whose types config.toml holds (common/config.go and the packages it embeds)."""
ROOT_PACKAGE, ROOT_TYPE = "common", "Config"
SCHEMA_URI = "https://json-schema.org/draft/2020-12/schema"
INTEGERS = {f"{s}int{n}" for s in ("", "u") for n in ("", "8", "16", "32", "64")} | {"byte", "rune", "uintptr"}
SCALARS: dict[str, dict[str, Any]] = (
    {"string": {"type": "string"}, "bool": {"type": "boolean"}, "float32": {"type": "number"}}
    | {"float64": {"type": "number"}, "any": {}}
    | {name: {"type": "integer"} for name in INTEGERS}
)
DURATION = {"type": ["string", "integer"]}
LOOSE: dict[str, dict[str, Any]] = {
    "common.StringOrArray": {"anyOf": [{"type": "string"}, {"items": {"type": "string"}, "type": "array"}]},
}
"""Named types the runner decodes more loosely than their Go type says (their own UnmarshalTOML)."""
COMMENT = (
    "Keys and types of gitlab-runner {tag} config.toml, derived from the Go structs of common/config.go and the "
    "packages it embeds (toml tags). Closed objects: unknown keys fail."
)


class SchemaError(Exception):
    """The source is not what this tool reads (missing tag, package or type)."""


# --- reading the source -----------------------------------------------------------------------------------------


class Source:
    """The runner's files at one tag: from a work tree, or from a git directory through `git show`."""

    def __init__(self, checkout: Path, tag: str) -> None:
        self.checkout, self.tag = checkout, tag
        self.tree = (checkout / "common" / "config.go").is_file()
        if not self.tree and self._git("rev-parse", "--verify", "--quiet", f"{tag}^{{commit}}") is None:
            raise SchemaError(f"{checkout}: neither a gitlab-runner work tree nor a git directory with tag {tag}")

    def _git(self, *args: str) -> str | None:
        done = subprocess.run(
            ["git", "--git-dir", str(self.checkout), *args], capture_output=True, text=True, check=False
        )
        return done.stdout if done.returncode == 0 else None

    def go_files(self, package: str) -> list[tuple[str, str]]:
        """(path, text) of the package's non-test Go files, by name."""
        if self.tree:
            names = sorted(p.name for p in (self.checkout / package).glob("*.go"))
        else:
            listed = self._git("ls-tree", "--name-only", f"{self.tag}:{package}")
            if listed is None:
                raise SchemaError(f"{self.tag} has no package {package}")
            names = sorted(listed.split())
        files = []
        for name in names:
            if not name.endswith(".go") or name.endswith("_test.go"):
                continue
            path = f"{package}/{name}"
            text = (self.checkout / path).read_text() if self.tree else self._git("show", f"{self.tag}:{path}")
            files.append((path, text or ""))
        return files


# --- a small Go reader: type declarations and struct fields -----------------------------------------------------

_TOKEN = re.compile(
    r"""(?P<space>\s+)|(?P<comment>//[^\n]*|/\*.*?\*/)|(?P<raw>`[^`]*`)|(?P<str>"(?:\\.|[^"\\\n])*")"""
    r"""|(?P<rune>'(?:\\.|[^'\\\n])+')|(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<num>[0-9][0-9A-Za-z_.]*)"""
    r"""|(?P<op>\.\.\.|[{}()\[\]*.,;=\-+/<>!&|^%:~])""",
    re.S,
)


def tokens(text: str) -> list[tuple[str, str, bool]]:
    """(kind, text, newline before) of Go source, comments dropped, newlines kept as a flag (they end fields)."""
    found: list[tuple[str, str, bool]] = []
    newline, at = False, 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            raise SchemaError(f"cannot read Go source near {text[at : at + 40]!r}")
        at = match.end()
        kind = match.lastgroup or ""
        if kind in ("space", "comment"):
            newline = newline or "\n" in match[0]
            continue
        found.append((kind, match[0], newline))
        newline = False
    return found


@dataclass
class GoType:
    """A parsed type expression."""

    kind: str  # name, pointer, slice, map, struct, interface, func, chan
    name: str = ""  # for `name`: "string", "Foo" or "pkg.Foo"
    elem: GoType | None = None
    key: GoType | None = None
    fields: list[Field] | None = None


@dataclass
class Field:
    names: list[str]  # empty: embedded
    type: GoType
    tag: str


class _Parser:
    def __init__(self, toks: list[tuple[str, str, bool]]) -> None:
        self.toks, self.at = toks, 0

    def peek(self, ahead: int = 0) -> tuple[str, str, bool]:
        index = self.at + ahead
        return self.toks[index] if index < len(self.toks) else ("eof", "", True)

    def take(self, text: str | None = None) -> str:
        kind, value, _ = self.peek()
        if kind == "eof" or (text is not None and value != text):
            raise SchemaError(f"expected {text!r}, found {value!r}")
        self.at += 1
        return value

    def skip_balanced(self) -> None:
        """Skip one bracketed group starting at the current token."""
        pairs = {"(": ")", "[": "]", "{": "}"}
        closing = [pairs[self.take()]]
        while closing:
            value = self.take()
            if value in pairs:
                closing.append(pairs[value])
            elif value == closing[-1]:
                closing.pop()

    def type_expr(self) -> GoType:
        readers = {
            "*": self._pointer,
            "[": self._slice,
            "map": self._map,
            "struct": self._struct,
            "interface": self._interface,
            "func": self._opaque,
            "chan": self._opaque,
        }
        reader = readers.get(self.peek()[1], self._named)
        return reader()

    def _pointer(self) -> GoType:
        self.take("*")
        return GoType("pointer", elem=self.type_expr())

    def _slice(self) -> GoType:
        self.take("[")
        while self.peek()[1] != "]":  # an array's length
            self.take()
        self.take("]")
        return GoType("slice", elem=self.type_expr())

    def _map(self) -> GoType:
        self.take("map")
        self.take("[")
        key = self.type_expr()
        self.take("]")
        return GoType("map", key=key, elem=self.type_expr())

    def _struct(self) -> GoType:
        self.take("struct")
        return GoType("struct", fields=self.struct_body())

    def _interface(self) -> GoType:
        self.take("interface")
        self.skip_balanced()
        return GoType("interface")

    def _named(self) -> GoType:
        name = self.take()
        if self.peek()[1] == "." and not self.peek(1)[2]:
            self.take(".")
            name = f"{name}.{self.take()}"
        if self.peek()[1] == "[" and not self.peek()[2] and self.peek(1)[1] != "]":
            self.skip_balanced()  # type arguments of a generic type
        return GoType("name", name=name)

    def _opaque(self) -> GoType:
        """func and chan types: nothing config.toml holds; skip to the end of the type."""
        word = self.take()
        while self.peek()[0] != "eof" and not self.peek()[2] and self.peek()[1] not in ("`", ";", "}"):
            if self.peek()[1] in "([{":
                self.skip_balanced()
            else:
                self.take()
        return GoType(word)

    def struct_body(self) -> list[Field]:
        self.take("{")
        fields: list[Field] = []
        while self.peek()[1] != "}":
            if self.peek()[1] == ";":
                self.take()
                continue
            names: list[str] = []
            kind, value, _ = self.peek()
            following = self.peek(1)
            embedded = following[2] or following[1] in ("}", ";") or following[0] in ("raw", "str")
            embedded = embedded or (following[1] == "." and value != "*")
            if kind == "word" and not embedded:
                names.append(self.take())
                while self.peek()[1] == ",":
                    self.take()
                    names.append(self.take())
            field_type = self.type_expr()
            tag = ""
            if self.peek()[0] in ("raw", "str") and not self.peek()[2]:
                tag = self.take()[1:-1]
            fields.append(Field(names, field_type, tag))
        self.take("}")
        return fields


@dataclass(frozen=True)
class Package:
    name: str  # the `package` clause
    path: str  # its directory in the module
    types: dict[str, GoType]  # top-level `type X ...` declarations (not `type ( ... )` groups)
    imports: dict[str, str]  # local name -> import path


def read_package(path: str, files: list[tuple[str, str]]) -> Package:
    name, types, imports = "", dict[str, GoType](), dict[str, str]()
    for file_path, text in files:
        found = _read_file(_Parser(tokens(text)), types, imports)
        if not found:
            raise SchemaError(f"{file_path}: no package clause")
        name = name or found
    return Package(name, path, types, imports)


def _read_file(parser: _Parser, types: dict[str, GoType], imports: dict[str, str]) -> str:
    """Collect a file's top-level type declarations and imports; its package name."""
    name = ""
    while parser.peek()[0] != "eof":
        word = parser.peek()[1]
        if word == "package" and not name:
            parser.take()
            name = parser.take()
        elif word == "import":
            parser.take()
            imports.update(_imports(parser))
        elif word == "type":
            _type_declaration(parser, types)
        elif word in "([{":
            parser.skip_balanced()
        else:
            parser.take()
    return name


def _type_declaration(parser: _Parser, types: dict[str, GoType]) -> None:
    parser.take("type")
    if parser.peek()[1] == "(":
        parser.skip_balanced()  # grouped declarations are not read (see the module docstring)
        return
    type_name = parser.take()
    if parser.peek()[1] == "[" and parser.peek(1)[1] != "]":
        parser.skip_balanced()  # type parameters (`[]T` is a slice type)
    if parser.peek()[1] == "=":
        parser.take()
    types[type_name] = parser.type_expr()


def _imports(parser: _Parser) -> Iterator[tuple[str, str]]:
    def one() -> tuple[str, str]:
        local = parser.take() if parser.peek()[0] == "word" or parser.peek()[1] in (".", "_") else ""
        target = json.loads(parser.take())
        return (local or target.rsplit("/", 1)[-1]), target

    if parser.peek()[1] != "(":
        yield one()
        return
    parser.take("(")
    while parser.peek()[1] != ")":
        if parser.peek()[1] == ";":
            parser.take()
            continue
        yield one()
    parser.take(")")


# --- from Go types to JSON Schema -------------------------------------------------------------------------------


def toml_name(tag: str) -> str | None:
    """The key a struct tag gives a field (None: no toml tag)."""
    found = re.search(r'(?:^|\s)toml:"([^"]*)"', tag)
    return found[1].split(",", 1)[0] if found else None


class Deriver:
    def __init__(self, packages: dict[str, Package]) -> None:
        self.packages = packages  # by import path
        self.defs: dict[str, dict[str, Any]] = {}

    def resolve(self, package: Package, name: str) -> tuple[Package, str] | None:
        """The package and type a (possibly qualified) name refers to, when it is one of PACKAGES' own types."""
        if "." in name:
            local, bare = name.split(".", 1)
            target = self.packages.get(package.imports.get(local, ""))
            return (target, bare) if target is not None and bare in target.types else None
        return (package, name) if name in package.types else None

    def schema(self, package: Package, go: GoType) -> dict[str, Any]:
        if go.kind == "pointer" and go.elem is not None:
            return self.schema(package, go.elem)
        if go.kind == "slice" and go.elem is not None:
            return {"items": self.schema(package, go.elem), "type": "array"}
        if go.kind == "map" and go.elem is not None:
            return {"additionalProperties": self.schema(package, go.elem), "type": "object"}
        if go.kind == "struct":
            return self.struct(package, go.fields or [])
        return self._named(package, go.name) if go.kind == "name" else {}

    def _named(self, package: Package, name: str) -> dict[str, Any]:
        if name == "time.Duration":
            return dict(DURATION)
        if name in SCALARS:
            return dict(SCALARS[name])
        resolved = self.resolve(package, name)
        if resolved is None:
            return {}
        owner, bare = resolved
        key = f"{owner.name}.{bare}"
        if key not in self.defs:
            self.defs[key] = {}  # reserved first: a type may refer to itself
            self.defs[key] = LOOSE.get(key) or self.schema(owner, owner.types[bare])
        return {"$ref": f"#/$defs/{key}"}

    def properties(self, package: Package, fields: list[Field]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for field in fields:
            name = toml_name(field.tag)
            if not field.names and name is None:  # embedded: its keys are the embedding struct's
                found |= self._embedded(package, field.type)
                continue
            if name is None or name == "-":
                continue
            for field_name in field.names or [""]:
                found[name or field_name] = self.schema(package, field.type)
        return found

    def _embedded(self, package: Package, go: GoType) -> dict[str, Any]:
        while go.kind == "pointer" and go.elem is not None:
            go = go.elem
        resolved = self.resolve(package, go.name) if go.kind == "name" else None
        if resolved is None or resolved[0].types[resolved[1]].kind != "struct":
            return {}
        owner, bare = resolved
        return self.properties(owner, owner.types[bare].fields or [])

    def struct(self, package: Package, fields: list[Field]) -> dict[str, Any]:
        return {"additionalProperties": False, "properties": self.properties(package, fields), "type": "object"}


def derive(source: Source) -> dict[str, Any]:
    """The schema of config.toml at the source's tag."""
    packages = {f"{MODULE}/{p}": read_package(p, source.go_files(p)) for p in PACKAGES}
    root = packages[f"{MODULE}/{ROOT_PACKAGE}"]
    if ROOT_TYPE not in root.types:
        raise SchemaError(f"{source.tag}: no type {ROOT_TYPE} in {ROOT_PACKAGE}")
    deriver = Deriver(packages)
    ref = deriver.schema(root, GoType("name", name=ROOT_TYPE))
    return {
        "$comment": COMMENT.format(tag=source.tag),
        "$defs": deriver.defs,
        "$ref": ref["$ref"],
        "$schema": SCHEMA_URI,
    }


def text(schema: dict[str, Any]) -> str:
    """The file as vendored: sorted keys, one-space indent, a final newline."""
    return json.dumps(schema, indent=1, sort_keys=True) + "\n"


def schema_name(tag: str) -> str:
    return f"gitlab-runner-{tag}-config.schema.json"


def checksums(directory: Path) -> str:
    """`sha256sum *.json` of a directory, as SHA256SUMS holds it."""
    lines = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}" for p in sorted(directory.glob("*.json"))]
    return "\n".join(lines) + "\n"


TAG = re.compile(r"v\d+\.\d+\.\d+")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/runner_schema.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tag", required=True, help="the gitlab-runner release tag, e.g. v19.4.0")
    parser.add_argument("--source", required=True, type=Path, help="a gitlab-runner work tree or git directory")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "schemas")
    parser.add_argument("--drop-others", action="store_true", help="delete the other runner schemas in --out")
    args = parser.parse_args(argv)
    if not TAG.fullmatch(args.tag):
        print(f"error: --tag: expected a release tag such as v19.4.0, found {args.tag!r}", file=sys.stderr)
        return 2
    try:
        schema = derive(Source(args.source, args.tag))
    except (SchemaError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    target = args.out / schema_name(args.tag)
    if args.drop_others:
        for other in args.out.glob(schema_name("*")):
            if other != target:
                other.unlink()
    target.write_text(text(schema))
    (args.out / "SHA256SUMS").write_text(checksums(args.out))
    print(f"wrote {target} ({len(schema['$defs'])} types) and {args.out / 'SHA256SUMS'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
