"""The README keeps the newcomer's path true (issue 21, parts 1 and 2, and its review): a table of contents near the
top whose links land on headings; a path "From zero to a dev fleet" whose every command (in sh, bash, shell or
console fences; no command hides in a fence of another language) is run here, parsed by the project module's own
argparse parser, checked against the Pulumi CLI's flags and the secrets table's providers and backends, or listed as
an external tool, in an order a newcomer can follow (paths exist or an earlier step writes them; one stack
throughout); each mutation a reviewer found is shown to be caught; the stack file it shows plans without a warning;
no document asks for a secret on a command line; and each GitLab token is given one scope and role everywhere.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import itertools
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml

from components.domain.targets import DockerTarget
from components.ops import mr_note, verify
from components.ops.doctor import docker_info_command
from tests.conftest import ROOT
from tests.fleets import ciphertext
from tests.harness import plan_command
from tests.ops.test_doctor import GOOD_DOCKER
from tests.test_shipped_stacks import plan_findings

README = (ROOT / "README.md").read_text()
PATH_SECTION = README.split("\n## From zero to a dev fleet\n", 1)[1].split("\n## ", 1)[0]
SECRETS_SECTION = README.split("\n## Secrets\n", 1)[1].split("\n## ", 1)[0]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation other than '-' and '_' dropped, spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _headings() -> list[str]:
    outside_fences = FENCE.sub("", README)
    return re.findall(r"^#{2,4} (.+)$", outside_fences, re.M)


def test_a_table_of_contents_within_the_first_80_lines_links_every_section() -> None:
    lines = README.splitlines()
    assert "## Contents" in lines[:80]
    contents = README.split("## Contents\n", 1)[1].split("\n## ", 1)[0]
    linked = set(re.findall(r"\]\(#([^)]+)\)", contents))
    sections = [h for h in re.findall(r"^## (.+)$", FENCE.sub("", README), re.M) if h != "Contents"]
    assert {slug(h) for h in sections} <= linked, [h for h in sections if slug(h) not in linked]


def test_every_link_inside_the_readme_lands_on_a_heading() -> None:
    anchors = {slug(h) for h in _headings()}
    broken = sorted(set(re.findall(r"\]\(#([^)]+)\)", README)) - anchors)
    assert not broken, broken


def test_the_path_comes_before_the_reference() -> None:
    order = [README.index(f"\n## {h}\n") for h in ("From zero to a dev fleet", "Secrets", "Stack file reference")]
    assert order == sorted(order)
    steps = re.findall(r"^### (\d)\. ", PATH_SECTION, re.M)
    assert steps == [str(i) for i in range(1, len(steps) + 1)] and len(steps) >= 8


# --- every command of the path ---------------------------------------------------------------------------------------

SHELL_FENCES = {"sh", "bash", "shell", "console"}
"""Fences whose lines are commands (a `console` line's `$ ` prompt is dropped)."""
COMMAND_TEXT = re.compile(r"(?m)^\s*(?:\$\s+)?pulumi\s+[a-z]|python3? -m components\b")
"""What a fence of any other language must not hold: a command that would escape these checks."""


def _commands(section: str) -> list[str]:
    """The commands of a section's shell fences, comments dropped."""
    found = []
    for language, body in FENCE.findall(section):
        if language in SHELL_FENCES:
            for line in body.splitlines():
                command = re.sub(r"\s+#.*$", "", line).strip().removeprefix("$ ").strip()
                if command and not command.startswith("#"):
                    found.append(command)
    return found


def _path_sections(readme: str) -> list[str]:
    path = readme.split("\n## From zero to a dev fleet\n", 1)[1].split("\n## ", 1)[0]
    secrets = readme.split("\n## Secrets\n", 1)[1].split("\n## ", 1)[0]
    return [path, secrets]


PATH_COMMANDS = [c for section in _path_sections(README) for c in _commands(section)]

# Tools the newcomer brings (step 1) and shell built-ins; the commands are theirs, the test only knows they are meant.
EXTERNAL = {
    "python3 --version",
    "make --version",
    "docker --version",
    "ssh -V",
    "ssh deploy@build-1.dev.example.com docker version",
    "curl -fsSL https://get.pulumi.com | sh -s -- --version 3.272.0",
    'export PATH="$HOME/.pulumi/bin:$PATH"',
    "mkdir -p ~/.pulumi-state",
    "mkdir -p ~/.config/runner-fleet",
    "(umask 077 && head -c 32 /dev/urandom | base64 > ~/.config/runner-fleet/passphrase)",
    "export PULUMI_CONFIG_PASSPHRASE_FILE=~/.config/runner-fleet/passphrase",
    "read -rs GITLAB_TOKEN && export GITLAB_TOKEN",
}
# Needs the real Pulumi CLI, which cannot be installed where the project is built. Each subcommand's flags as the CLI
# declares them: pulumi/pulumi at 1b5949891b3c (pkg/cmd/pulumi/config/config.go newConfigSetCmd; stack/stack_new.go,
# `init` is an alias of `stack new`; stack/stack_output.go; operations/preview.go and up.go; auth/login.go; the global
# --stack of config and stack subcommands).
PULUMI_FLAGS = {
    ("version",): set(),
    ("login",): {"--cloud-url", "--local", "--default-org"},
    ("stack", "init"): {"--secrets-provider", "--stack"},
    ("config", "set"): {"--secret", "--plaintext", "--path", "--raw", "--type", "--stack"},
    ("stack", "output"): {"--json", "--stack", "--show-secrets"},
    ("preview",): {"--stack", "--diff", "--refresh", "--expect-no-changes", "--policy-pack", "--json"},
    ("up",): {"--stack", "--refresh", "--yes", "--skip-preview", "--policy-pack", "--diff"},
}
PULUMI_VALUE_FLAGS = {"--stack", "-s", "--secrets-provider", "--type", "--cloud-url", "--default-org", "--policy-pack"}
"""Flags of those subcommands that take a value (the next word)."""
PROJECT_PREFIX = ".venv/bin/python -m "
OUTPUT_PATHS = {"out"}
"""Path options of the project's commands that name what the command writes (need not exist beforehand)."""
NEEDS_REAL_CLI = [c for c in PATH_COMMANDS if c.startswith("pulumi ")]
PROJECT_COMMANDS = [c for c in PATH_COMMANDS if c not in EXTERNAL and c not in NEEDS_REAL_CLI]


class _Parsed(Exception):  # a signal that parsing is done, not an error
    def __init__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace) -> None:
        super().__init__()
        self.parser, self.namespace = parser, namespace


def parse_project_command(module: str, argv: list[str]) -> tuple[argparse.ArgumentParser, argparse.Namespace] | str:
    """`argv` parsed by the module's own argparse parser, as its `main` builds it, and nothing run: parse_args is
    stopped right after it parsed. A usage error (unknown flag, missing value or required option) is its message."""
    original = argparse.ArgumentParser.parse_args

    def parse_then_stop(self: argparse.ArgumentParser, args: Any = None, namespace: Any = None) -> Any:
        raise _Parsed(self, original(self, args, namespace))

    imported = importlib.import_module(module)
    entry = getattr(imported, "main", None) or importlib.import_module(f"{module}.__main__").main
    said = io.StringIO()
    with mock.patch.object(argparse.ArgumentParser, "parse_args", parse_then_stop), contextlib.redirect_stderr(said):
        try:
            entry(argv)
        except _Parsed as parsed:
            return parsed.parser, parsed.namespace
        except SystemExit:
            return said.getvalue().strip().splitlines()[-1]
    return "its main returned without parsing arguments"


def _secrets_table_schemes(readme: str) -> tuple[set[str], set[str], set[str]]:
    """From the secrets table's first column: provider names (`passphrase`), provider URL schemes (`awskms://...`)
    and backend URL schemes (`file://`)."""
    secrets = _path_sections(readme)[1]
    table = secrets.split("### Secrets providers and backends\n", 1)[1].split("\n### ", 1)[0]
    cells = [line.split("|")[1] for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]
    words = [w for cell in cells for w in re.findall(r"`([^`]+)`", cell)]
    names = {w for w in words if re.fullmatch(r"\w+", w)}
    providers = {m[1] for w in words if (m := re.fullmatch(r"(\w+)://\S+", w))}
    backends = {m[1] for w in words if (m := re.fullmatch(r"(\w+)://", w))}
    return names, providers, backends


def _pulumi_problems(command: str, words: list[str], schemes: tuple[set[str], set[str], set[str]]) -> list[str]:
    subcommand = next((k for k in sorted(PULUMI_FLAGS, key=len, reverse=True) if tuple(words[: len(k)]) == k), None)
    if subcommand is None:
        return [f"{command}: no Pulumi subcommand this test knows"]
    problems = []
    flags = {w.split("=", 1)[0] for w in words if w.startswith("-")}
    if flags - PULUMI_FLAGS[subcommand]:
        problems.append(f"{command}: flags the CLI does not have: {sorted(flags - PULUMI_FLAGS[subcommand])}")
    names, providers, backends = schemes
    for flag, value in itertools.pairwise(words):
        if flag == "--secrets-provider" and value not in names and value.split("://", 1)[0] not in providers:
            problems.append(f"{command}: secrets provider {value!r} is none of the secrets table's")
    if subcommand == ("login",):
        urls = [w for w in words[1:] if not w.startswith("-")]
        if urls and (urls[0].split("://", 1)[0] not in backends or "://" not in urls[0]):
            problems.append(
                f"{command}: backend {urls[0]!r} has none of the secrets table's schemes {sorted(backends)}"
            )
    return problems


def _stacks(words: list[str]) -> list[str]:
    """The stack a pulumi command names: `--stack X`, `-s X`, or `stack init X`."""
    named = [value for flag, value in itertools.pairwise(words) if flag in ("--stack", "-s")]
    if words[:2] == ["stack", "init"] and len(words) > 2 and not words[2].startswith("-"):
        named.append(words[2])
    return named


def _project_problems(command: str, words: list[str], produced: dict[str, str]) -> tuple[list[str], list[str]]:
    """Problems of a `.venv/bin/python -m components.X` command, and the stacks its stack files name."""
    module, argv = words[2], words[3:]
    parsed = parse_project_command(module, argv)
    if isinstance(parsed, str):
        return [f"{command}: {parsed}"], []
    parser, namespace = parsed
    problems, stacks = [], []
    for action in parser._actions:  # argparse keeps its options there
        value = getattr(namespace, action.dest, None)
        if action.type is not Path or value is None or action.dest in OUTPUT_PATHS:
            continue
        if not (ROOT / value).exists() and str(value) not in produced:
            problems.append(f"{command}: {action.option_strings[0]} {value}: not in the repository, nor written before")
        elif produced.get(str(value), "").startswith("pulumi stack output") and "--json" not in produced[str(value)]:
            problems.append(f"{command}: {value} comes from `{produced[str(value)]}`, which writes no JSON (--json)")
        if match := re.fullmatch(r"(?:.*/)?Pulumi\.([\w-]+)\.yaml", str(value)):
            stacks.append(match[1])
    return problems, stacks


def _order_problems(command: str, words: list[str], produced: dict[str, str]) -> list[str]:
    """What a pulumi command needs from earlier steps: the CLI on PATH (the install script puts it in
    ~/.pulumi/bin and changes only new shells' PATH) and, for the file backend, its directory (the file backend does
    not create it: gocloud's fileblob opens it without create_dir, pulumi/pulumi#15841)."""
    problems = []
    if "pulumi on PATH" not in produced:
        problems.append(f'{command}: runs before ~/.pulumi/bin is on PATH (export PATH="$HOME/.pulumi/bin:$PATH")')
    if words[:1] == ["login"] and len(words) > 1 and words[1].startswith("file://"):
        directory = words[1].removeprefix("file://")
        if directory not in produced:
            problems.append(f"{command}: {directory} is created by no earlier step (mkdir -p {directory})")
    return problems


def _command_problems(
    command: str, schemes: tuple[set[str], set[str], set[str]], produced: dict[str, str]
) -> tuple[list[str], list[str]]:
    """One command's problems and the stacks it names; what it writes is recorded in `produced`."""
    words = shlex.split(command.split("<", 1)[0])
    if ">" in words:
        produced[words[words.index(">") + 1]] = command
        words = words[: words.index(">")]
    if words[:2] == ["mkdir", "-p"]:
        produced.update({w: command for w in words[2:]})
    if command.startswith("export PATH=") and "$HOME/.pulumi/bin" in command:
        produced["pulumi on PATH"] = command
    if command.startswith(("export PULUMI_CONFIG_PASSPHRASE_FILE=", "export PULUMI_CONFIG_PASSPHRASE=")):
        produced["the passphrase"] = command
    if command in EXTERNAL or command.startswith("make "):
        return [], []
    if command.startswith("pulumi "):
        found = _pulumi_problems(command, words[1:], schemes) + _order_problems(command, words[1:], produced)
        found += _secret_problems(command, words[1:], produced)
        return found, _stacks(words[1:])
    if command.startswith(PROJECT_PREFIX + "components."):
        return _project_problems(command, words, produced)
    return [f"{command}: run it in a test, or list it as external"], []


KNOWN_PROVIDER_KEYS = {"gitlab:token"}
"""The provider settings the path sets; project keys (registryAuth, a CA's key...) have no prefix."""


def _secret_problems(command: str, args: list[str], produced: dict[str, str]) -> list[str]:
    """`config set` in the path and the secrets section sets secrets: with `--secret`, a key that exists, and the
    passphrase provider's passphrase exported before anything needs it."""
    found = []
    if args[:2] == ["config", "set"]:
        keys = [a for a in args[2:] if not a.startswith("-") and a not in ("dev",)]
        if "--secret" not in args:
            found.append(f"{command}: a secret set without --secret is stored in plain text")
        found += [
            f"{command}: {k!r} is no key runner-fleet reads" for k in keys if ":" in k and k not in KNOWN_PROVIDER_KEYS
        ]
    if args[:2] == ["stack", "init"] and "passphrase" in args and "the passphrase" not in produced:
        found.append(f"{command}: the passphrase provider needs PULUMI_CONFIG_PASSPHRASE_FILE exported first")
    return found


def path_problems(readme: str) -> list[str]:
    """What is wrong with the commands of the README's newcomer path and secrets section, read as a newcomer runs
    them top to bottom."""
    problems: list[str] = []
    schemes = _secrets_table_schemes(readme)
    produced: dict[str, str] = {"plan/dev": "make plan"}  # what earlier commands wrote, and which command
    stacks: list[str] = []
    for section in _path_sections(readme):
        for language, body in FENCE.findall(section):
            if language not in SHELL_FENCES and COMMAND_TEXT.search(body):
                problems.append(f"a ```{language or '(no language)'} block holds a command: {body.splitlines()[0]}")
        for command in _commands(section):
            found, named = _command_problems(command, schemes, produced)
            problems += found
            stacks += named
    if len(set(stacks)) > 1:
        problems.append(f"the path names more than one stack: {sorted(set(stacks))}")
    return problems


def test_every_command_of_the_path_is_one_a_newcomer_can_run() -> None:
    assert path_problems(README) == []
    assert not EXTERNAL - set(PATH_COMMANDS), f"no longer in the README: {EXTERNAL - set(PATH_COMMANDS)}"
    assert PROJECT_COMMANDS and NEEDS_REAL_CLI


MUTATIONS = {
    "a secret set in plain text": (
        "pulumi config set --secret gitlab:token\n```",
        "pulumi config set gitlab:token\n```",
        "a secret set without --secret is stored in plain text",
    ),
    "a misspelt provider key": (
        "pulumi config set --secret gitlab:token\n```",
        "pulumi config set --secret gitlab:tokne\n```",
        "'gitlab:tokne' is no key runner-fleet reads",
    ),
    "the passphrase exported after the stack needs it": (
        "export PULUMI_CONFIG_PASSPHRASE_FILE=~/.config/runner-fleet/passphrase\n"
        "pulumi stack init dev --secrets-provider passphrase\n",
        "pulumi stack init dev --secrets-provider passphrase\n"
        "export PULUMI_CONFIG_PASSPHRASE_FILE=~/.config/runner-fleet/passphrase\n",
        "needs PULUMI_CONFIG_PASSPHRASE_FILE exported first",
    ),
    "a stack file that does not exist": (
        "verify --stack-file stacks/Pulumi.dev.yaml",
        "verify --stack-file stacks/Pulumi.dev.yml",
        "stacks/Pulumi.dev.yml: not in the repository, nor written before",
    ),
    "stack output without --json": (
        "pulumi stack output --stack dev --json > outputs.json",
        "pulumi stack output --stack dev > outputs.json",
        "which writes no JSON (--json)",
    ),
    "another stack inside the dev path": (
        "pulumi preview --stack dev --diff",
        "pulumi preview --stack prod --diff",
        "the path names more than one stack: ['dev', 'prod']",
    ),
    "a backend scheme no backend has": (
        "pulumi login file://~/.pulumi-state",
        "pulumi login fiel://~/.pulumi-state",
        "backend 'fiel://~/.pulumi-state' has none of the secrets table's schemes",
    ),
    "a secrets provider that does not exist": (
        "pulumi stack init dev --secrets-provider passphrase",
        "pulumi stack init dev --secrets-provider pasphrase",
        "secrets provider 'pasphrase' is none of the secrets table's",
    ),
    "a shell fence with bogus flags": (
        "```sh\npulumi preview --stack dev --diff\n",
        "```shell\npulumi preview --stack dev --diff --bogus\n",
        "flags the CLI does not have: ['--bogus']",
    ),
    "a console fence with bogus flags": (
        "```sh\npulumi preview --stack dev --diff\n",
        "```console\n$ pulumi up -x\n",
        "flags the CLI does not have: ['-x']",
    ),
    "a command in a text fence": (
        "```sh\npulumi preview --stack dev --diff\n",
        "```text\npulumi preview --stack dev\n",
        "a ```text block holds a command",
    ),
    "an unknown flag of a project command": ("--host build-1", "--hots build-1", "unrecognized arguments: --hots"),
    "a missing value of a project command": (
        "--outputs outputs.json\n",
        "--outputs\n",
        "argument --outputs: expected one argument",
    ),
    "a missing required option": (
        " --outputs outputs.json\n",
        "\n",
        "the following arguments are required: --outputs",
    ),
    "an output that no step writes": (
        "--json > outputs.json",
        "--json > output.json",
        "--outputs outputs.json: not in the repository, nor written before",
    ),
    "a command nobody checks": ("ssh -V\n", "ssh -V\nrm -rf build\n", "rm -rf build: run it in a test"),
    "a file backend whose directory nobody creates": (
        "mkdir -p ~/.pulumi-state\n",
        "",
        "~/.pulumi-state is created by no earlier step",
    ),
    "the CLI used before it is on PATH": (
        'export PATH="$HOME/.pulumi/bin:$PATH"\n',
        "",
        "pulumi version: runs before ~/.pulumi/bin is on PATH",
    ),
}
"""Each a change to the README that a newcomer would trip over (a reviewer's mutations), and what the check says."""


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_the_check_reports_each_wrong_command(mutation: str) -> None:
    old, new, said = MUTATIONS[mutation]
    assert README.count(old) == 1, f"{mutation}: {old!r} is not once in the README"
    problems = path_problems(README.replace(old, new))
    assert any(said in problem for problem in problems), problems


@pytest.mark.parametrize("command", NEEDS_REAL_CLI)
def test_a_pulumi_command_uses_subcommands_and_flags_the_cli_has(command: str) -> None:
    words = shlex.split(command.split("<", 1)[0].split(">", 1)[0])[1:]
    assert _pulumi_problems(command, words, _secrets_table_schemes(README)) == []


def test_the_cli_version_is_the_one_the_pipeline_installs() -> None:
    pinned = yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text())["variables"]["PULUMI_VERSION"]
    assert f"--version {pinned}" in PATH_SECTION and f"`v{pinned}`" in PATH_SECTION


def test_the_make_targets_of_the_path_are_what_ci_runs_or_run_here(tmp_path: Path) -> None:
    """`make test` is what CI runs (.ci/run); `make plan`'s recipe is run here, as the path's step 2 runs it."""
    targets = {c.split()[1] for c in PROJECT_COMMANDS if c.startswith("make ")}
    assert targets == {"plan", "test"}
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    dry = subprocess.run(["make", "-n", "plan"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    (recipe,) = [line for line in dry.stdout.splitlines() if "components.plan" in line]
    assert recipe.split()[1:] == [
        "-m",
        "components.plan",
        "--stack-file",
        "stacks/Pulumi.dev.yaml",
        "--out",
        "plan/dev",
    ]
    out = tmp_path / "plan-dev"
    assert plan_findings(ROOT / "stacks" / "Pulumi.dev.yaml", out) == []
    assert (out / "plan.json").is_file() and (out / "hosts" / "build-1" / "config.toml").is_file()


# --- the stack file of the path -------------------------------------------------------------------------------------


def _path_stack(tmp_path: Path) -> Path:
    (block,) = [b for lang, b in FENCE.findall(PATH_SECTION) if lang == "yaml" and "stacks/Pulumi.dev.yaml" in b]
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(block)
    return path


def test_the_one_host_dev_stack_plans_cleanly_as_step_3_says(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert plan_findings(_path_stack(tmp_path), out) == []
    plan = json.loads((out / "plan.json").read_text())
    assert list(plan["hosts"]) == ["build-1"] and sorted(plan["runners"]) == ["images", "tests"]
    (manager,) = [
        r
        for r in plan["resources"]
        if r["type"] == "docker:index/container:Container"
        and {"label": "runner-fleet.io/role", "value": "manager"} in r["inputs"].get("labels", [])
    ]
    assert manager["inputs"]["name"].startswith("gitlab-runner-dev-build-1")
    assert "`gitlab-runner-dev-build-1`" in PATH_SECTION and "label=runner-fleet.io/role=manager" in PATH_SECTION


def test_doctor_says_what_step_4_shows_for_a_ready_host(tmp_path: Path) -> None:
    (command,) = [c for c in PROJECT_COMMANDS if "components.ops.doctor" in c]
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps({"build-1": GOOD_DOCKER}))
    words = shlex.split(command)[1:]
    words[words.index("--stack-file") + 1] = str(_path_stack(tmp_path))
    done = subprocess.run(
        [sys.executable, *words, "--facts", str(facts)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (shown,) = re.findall(r"doctor prints\s+`([^`]+)`", PATH_SECTION)
    assert shown in done.stdout.splitlines()


# --- secrets: one story ---------------------------------------------------------------------------------------------


def _stack(tmp_path: Path, head: str, token: str) -> Path:
    path = tmp_path / "Pulumi.s.yaml"
    path.write_text(
        f"{head}config:\n"
        "  runner-fleet:gitlabUrl: https://gitlab.example.com\n"
        "  runner-fleet:hosts: {h: {docker: {host: 'ssh://ci@h.example.com'}}}\n"
        "  runner-fleet:runners: {r: {host: h, scope: {instance: true}, tags: [t]}}\n"
        f"  gitlab:token:\n    secure: {token}\n"
    )
    return path


@pytest.mark.parametrize(
    ("provider", "head", "token", "planned"),
    [
        ("passphrase", "encryptionsalt: v1:c2FsdA==:v1:Zm9vYmFy\n", ciphertext("pp"), True),
        (
            "awskms",
            "secretsprovider: awskms://alias/runner-fleet?region=eu-central-1\nencryptedkey: QUJDREVGR0g=\n",
            ciphertext("kms"),
            True,
        ),
        (
            "hashivault",
            "secretsprovider: hashivault://runner-fleet\nencryptedkey: QUJDREVGR0g=\n",
            ciphertext("v"),
            True,
        ),
        ("Pulumi Cloud", "", "AAABAJ2Yx1V5c2VydmljZS1jaXBoZXJ0ZXh0Cg==", False),
    ],
    ids=["passphrase", "awskms", "hashivault", "pulumi-cloud"],
)
def test_the_secrets_table_says_what_the_offline_plan_does_with_each_provider(
    provider: str, head: str, token: str, planned: bool, tmp_path: Path
) -> None:
    stack, out = _stack(tmp_path, head, token), tmp_path / "out"
    done = plan_command("--stack-file", str(stack), "--out", str(out))
    assert done.returncode == (0 if planned else 2), done.stderr
    assert token not in done.stdout + done.stderr
    table = SECRETS_SECTION.split("### Secrets providers and backends\n", 1)[1].split("\n### ", 1)[0]
    (row,) = [line for line in table.splitlines() if line.startswith("| ") and provider in line.split("|")[1]]
    assert ("**refuses them**" in row) != planned and ("reads them" in row) == planned


DOCUMENTS = [
    ROOT / "README.md",
    ROOT / "Pulumi.yaml",
    ROOT / ".gitlab-ci.yml",
    *sorted((ROOT / "ci").glob("*.yml")),
    *sorted((ROOT / "stacks").glob("*.yaml")),
    *sorted((ROOT / "docs").glob("*.md")),
    *sorted((ROOT / "examples").rglob("*.*")),
    *sorted((ROOT / "templates").glob("*.yml")),
    *sorted((ROOT / "components").rglob("*.py")),  # the messages users read
]
VALUE_FLAGS = {"--stack", "-s", "--type", "--config-file"}


def value_on_the_command_line(text: str) -> list[str]:
    """Every `config set --secret` in `text` that passes the value as an argument (shell history, `ps`)."""
    found = []
    for match in re.finditer(r"config set\b([^`\n]*)", text):
        words = match[1].split()
        if "--secret" not in words:
            continue
        positional, skip = [], False
        for word in words:
            if word[0] in "<>|#;&()" or word in ("&&", "||"):  # redirection, pipe, comment, prose in parentheses
                break
            if skip:
                skip = False
            elif word in VALUE_FLAGS:
                skip = True
            elif not word.startswith("-"):
                positional.append(word)
            if word[-1] in ":,)":  # the command ends inside a sentence or a message
                break
        if len(positional) > 1:
            found.append(match[0])
    return found


def test_no_document_puts_a_secret_value_on_the_command_line() -> None:
    for document in DOCUMENTS:
        assert value_on_the_command_line(document.read_text()) == [], document.relative_to(ROOT)


@pytest.mark.parametrize(
    ("text", "caught"),
    [
        ("pulumi config set --secret gitlab:token glpat-x", True),
        ('pulumi config set --secret edgeCaPem -- "$(cat ca.pem)"', True),
        ("pulumi config set --secret gitlab:token --stack dev", False),
        ("pulumi config set --secret registryAuth < config.json", False),
    ],
)
def test_the_history_check_tells_a_value_from_a_flag(text: str, caught: bool) -> None:
    assert bool(value_on_the_command_line(text)) == caught


# --- tokens: one role, one scope each ---------------------------------------------------------------------------------

GITLAB_SCOPES = [
    "api",
    "read_api",
    "read_user",
    "create_runner",
    "manage_runner",
    "k8s_proxy",
    "read_repository",
    "write_repository",
    "read_registry",
    "write_registry",
    "read_virtual_registry",
    "write_virtual_registry",
    "sudo",
    "admin_mode",
    "read_service_ping",
    "self_rotate",
    "ai_features",
]
"""GitLab's token scopes (docs.gitlab.com, user/profile/personal_access_tokens, "Personal access token scopes")."""
PROVIDER_ROLE = "its user owner of the groups and at least maintainer of the projects the stack names"
TOKEN_SCOPES = {
    # token: (how documents name it, the scope it has, what must follow that scope)
    "the provider's token (gitlab:token)": (r"gitlab:token|provider's (?:gitlab )?token", "api", f"; {PROVIDER_ROLE}"),
    "verify's token (GITLAB_TOKEN)": (r"gitlab_token|verify's (?:read )?token", "read_api", ""),
    "the note's token (RUNNER_FLEET_NOTE_TOKEN)": (r"runner_fleet_note_token|token_env", "api", ""),
}
SCOPE_STATEMENT = re.compile(rf"\b({'|'.join(GITLAB_SCOPES)}) scope\b|\bscope:? ({'|'.join(GITLAB_SCOPES)})\b")


def _blocks(text: str) -> list[str]:
    """Paragraphs, comment blocks and table rows, lower case, without Markdown, quotes or comment marks."""
    blocks = []
    for paragraph in re.split(r"\n\s*\n", text):
        rows = [line for line in paragraph.splitlines() if line.lstrip().startswith("|")]
        rest = "\n".join(line for line in paragraph.splitlines() if line not in rows)
        for block in [*rows, rest]:
            plain = re.sub(r"(?m)^\s*#+ ?", "", block)
            blocks.append(" ".join(re.sub(r"[`*\"]", "", plain).lower().split()))
    return blocks


def scope_problems(text: str) -> list[str]:
    """Every statement of a token's scope, attributed to the token named last before it: the scope that token has
    (and, for the provider's, the role its user needs, in the same words everywhere)."""
    problems = []
    for block in _blocks(text):
        for statement in SCOPE_STATEMENT.finditer(block):
            named = [
                (m.start(), token)
                for token, (pattern, _, _) in TOKEN_SCOPES.items()
                for m in re.finditer(pattern, block[: statement.start()])
            ]
            if not named:
                problems.append(
                    f"a scope of no named token: ...{block[max(0, statement.start() - 80) : statement.end()]}"
                )
                continue
            token = max(named)[1]
            _, scope, after = TOKEN_SCOPES[token]
            if (statement[1] or statement[2]) != scope or not block[statement.end() :].startswith(after):
                problems.append(f"{token}: {block[statement.start() : statement.end() + len(after) + 10]!r}")
    return problems


def test_every_document_gives_each_token_its_one_scope() -> None:
    stated = {}
    for document in DOCUMENTS:
        text = document.read_text()
        assert "create_runner" not in text, document.relative_to(ROOT)
        assert scope_problems(text) == [], document.relative_to(ROOT)
        stated[document.relative_to(ROOT).as_posix()] = len(SCOPE_STATEMENT.findall(" ".join(_blocks(text))))
    # The places a newcomer reads the provider's token's scope: the path, the secrets table, both stack files.
    for place in ("README.md", "stacks/Pulumi.dev.yaml", "stacks/Pulumi.prod.yaml"):
        assert stated[place], place


@pytest.mark.parametrize(
    "text",
    [
        "pulumi config set --secret gitlab:token prompts for a token with the create_runner scope.",
        "paste the provider's token, with the `api` scope (any role).",
        "`GITLAB_TOKEN`: a token with the `api` scope",
        "a token with the `api` scope",
    ],
)
def test_the_scope_check_catches_a_token_given_another_scope(text: str) -> None:
    assert scope_problems(text) != []


def test_what_ci_needs_names_the_tokens_the_commands_read_and_the_pipeline_header_lists_every_variable() -> None:
    table = SECRETS_SECTION.split("### What CI needs\n", 1)[1].split("\n### ", 1)[0]
    rows = "\n".join(line for line in table.splitlines() if line.startswith("| "))
    variables = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", rows))
    assert {verify.TOKEN_ENV, mr_note.TOKEN_ENV} <= variables
    header = "".join(re.findall(r"(?m)^#.*$", (ROOT / ".gitlab-ci.yml").read_text().split("\nworkflow:", 1)[0]))
    assert {v for v in variables if not re.search(rf"\b{v}\b", header)} == set()


# --- what the path says the tools do ---------------------------------------------------------------------------------


CITATION = re.compile(r'README[,:]? "([^"]+)"')


def test_every_citation_of_a_readme_section_names_one_it_has() -> None:
    headings = _headings()
    for document in [*DOCUMENTS, ROOT / "schemas" / "README.md"]:
        for cited in CITATION.findall(document.read_text()):
            assert any(h == cited or h.startswith(f"{cited} (") for h in headings), (document.relative_to(ROOT), cited)


def test_step_2_names_what_make_plan_writes_and_the_plan_writes_it(tmp_path: Path) -> None:
    step = PATH_SECTION.split("### 2. ", 1)[1].split("\n### ", 1)[0]
    assert "prints the resource tree" not in README  # the terminal gets a summary; the tree goes to tree.txt
    named = re.findall(r"`plan/dev/([^`]+)`", step)
    assert "tree.txt" in named
    out = tmp_path / "plan-dev"
    assert plan_findings(ROOT / "stacks" / "Pulumi.dev.yaml", out) == []
    assert [n for n in named if not (out / n).is_file()] == []


def test_step_1_says_where_doctor_runs_docker_for_each_kind_of_engine() -> None:
    """ssh:// hosts: `docker info` runs on the host over ssh (the Docker CLI is needed there, not here); tcp:// and
    unix://: the local Docker CLI with -H."""
    remote = docker_info_command(DockerTarget(url="ssh://deploy@build-1.dev.example.com"))
    assert remote[0] == "ssh" and remote[-1].startswith("docker info")
    for url in ("tcp://build-2.example.com:2376", "unix:///var/run/docker.sock"):
        assert docker_info_command(DockerTarget(url=url))[:3] == ["docker", "-H", url]
    step = " ".join(PATH_SECTION.split("### 1. ", 1)[1].split("\n### ", 1)[0].split())
    assert "`doctor` runs `docker info` on the host over the same ssh URL and options" in step
    assert "the **Docker CLI** (`docker`), for `tcp://` and `unix://` Docker hosts: `doctor` runs it here" in step
