"""The README keeps the newcomer's path true (issue 21, parts 1 and 2): a table of contents near the top whose links
land on headings, a path "From zero to a dev fleet" whose every shell command is run here, checked against the
command's own --help, or listed as needing the real Pulumi CLI (with flags read in Pulumi's source) or an external
tool; the stack file it shows plans without a warning; and no document asks for a secret on a command line."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.fleets import ciphertext
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


# --- every command of the path --------------------------------------------------------------------------------------


def _commands(section: str) -> list[str]:
    """The shell commands of a section's ```sh blocks, comments dropped."""
    found = []
    for language, body in FENCE.findall(section):
        if language == "sh":
            for line in body.splitlines():
                command = re.sub(r"\s+#.*$", "", line).strip()
                if command and not command.startswith("#"):
                    found.append(command)
    return found


PATH_COMMANDS = _commands(PATH_SECTION) + _commands(SECRETS_SECTION)

# Tools the newcomer brings (step 1); the commands are theirs, the test only knows they are meant.
EXTERNAL = {
    "python3 --version",
    "make --version",
    "docker --version",
    "ssh -V",
    "ssh deploy@build-1.dev.example.com docker version",
    "curl -fsSL https://get.pulumi.com | sh -s -- --version 3.272.0",
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
NEEDS_REAL_CLI = [c for c in PATH_COMMANDS if c.startswith("pulumi ")]
PROJECT_COMMANDS = [c for c in PATH_COMMANDS if c not in EXTERNAL and c not in NEEDS_REAL_CLI]


def test_every_command_of_the_path_is_known() -> None:
    for command in PATH_COMMANDS:
        assert command in EXTERNAL or command.startswith(("pulumi ", "make ", ".venv/bin/python -m components.")), (
            f"README command {command!r}: run it in a test, or list it as external"
        )
    assert not EXTERNAL - set(PATH_COMMANDS), f"no longer in the README: {EXTERNAL - set(PATH_COMMANDS)}"


@pytest.mark.parametrize("command", NEEDS_REAL_CLI)
def test_a_pulumi_command_uses_subcommands_and_flags_the_cli_has(command: str) -> None:
    words = shlex.split(command.split("<", 1)[0].split(">", 1)[0])[1:]
    subcommand = next(key for key in sorted(PULUMI_FLAGS, key=len, reverse=True) if tuple(words[: len(key)]) == key)
    flags = {w.split("=", 1)[0] for w in words if w.startswith("--")}
    assert flags <= PULUMI_FLAGS[subcommand], f"{command}: {flags - PULUMI_FLAGS[subcommand]}"


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


@pytest.mark.parametrize("command", [c for c in PROJECT_COMMANDS if c.startswith(".venv/bin/python -m ")])
def test_a_project_command_uses_flags_its_help_lists(command: str) -> None:
    words = shlex.split(command)
    module = words[2]
    helped = subprocess.run(
        [sys.executable, "-m", module, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert helped.returncode == 0, helped.stderr
    for flag in (w for w in words if w.startswith("--")):
        assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", helped.stdout), f"{command}: {flag}"


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
    done = subprocess.run(
        [sys.executable, "-m", "components.plan", "--stack-file", str(stack), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
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
