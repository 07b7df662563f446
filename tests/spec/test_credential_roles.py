"""One credential, one role (issue 19, part 1): a secret config key, or one secret value under two keys, serves one
trust role at one protection level.

The oracle is the issue's own statement, written here by hand (`_allowed`), not the module's role table: the
engine's TLS material and a kubeconfig never reach a job; registry auth and CI/CD variable values reach jobs and
may share a credential only at one protection level; cache credentials stay the manager's; the GitLab CA (it
reaches every job) and the GitLab token share with nothing. Every refusal names both key paths and never a value.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.domain.model import REDACTED
from components.plan import engine
from components.plan.stack_file import read_stack_file
from components.spec import SpecError, credentials, load, parse_spec
from tests.fleets import ciphertext, write_stack
from tests.harness import plan_command

BASE: dict[str, Any] = {
    "gitlabUrl": "https://gitlab.acme.test",
    "hosts": {
        "edge": {"docker": {"host": "ssh://ci@edge.acme.test"}},
        "engine": {
            "docker": {
                "host": "tcp://engine.acme.test:2376",
                "tls": {"ca": "engineCa", "cert": "engineCert", "key": "engineKey"},
            }
        },
        "cluster": {"kubernetes": {"context": "prod", "namespace": "ci", "kubeconfig": "clusterConfig"}},
    },
    "runners": {
        "release": {"host": "edge", "scope": {"project": "acme/app"}, "tags": ["release"], "protectedOnly": True},
        "tests": {"host": "edge", "scope": {"project": "acme/app"}, "tags": ["tests"]},
        "deploy": {"host": "engine", "scope": {"project": "acme/app"}, "tags": ["deploy"], "protectedOnly": True},
        "k8s": {"host": "cluster", "scope": {"group": "acme"}, "tags": ["k8s"]},
    },
}
BASE_SECRETS = ("engineCa", "engineCert", "engineKey", "clusterConfig")


def _s3(access: str, bucket: str = "ci-cache") -> dict[str, Any]:
    return {
        "type": "s3",
        "s3": {"bucketName": bucket, "accessKey": {"secret": access}, "secretKey": {"secret": "s3Secret"}},
    }


def _variable(name: str, key: str, protected: bool, masked: bool = False) -> Callable[[dict[str, Any]], None]:
    def edit(values: dict[str, Any]) -> None:
        entry = {"project": "acme/app", "key": name, "secret": key, "protected": protected, "masked": masked}
        values.setdefault("variables", []).append(entry)

    return edit


def _at(path: str, value: Callable[[str], Any]) -> Callable[[str], Callable[[dict[str, Any]], None]]:
    def slot(key: str) -> Callable[[dict[str, Any]], None]:
        def edit(values: dict[str, Any]) -> None:
            *parents, last = path.split(".")
            node = values
            for part in parents:
                node = node.setdefault(part, {})
            node[last] = value(key)

        return edit

    return slot


def _name(key: str) -> str:
    return key


def _ref(key: str) -> dict[str, str]:
    return {"secret": key}


# slot -> (where the key is used, the path a problem names, the role as the issue says it, protection level)
SLOTS: dict[str, tuple[Callable[[str], Callable[[dict[str, Any]], None]], str, str, bool | None]] = {
    "tls ca": (_at("hosts.engine.docker.tls.ca", _name), "hosts.engine.docker.tls.ca", "engine", None),
    "tls cert": (_at("hosts.engine.docker.tls.cert", _name), "hosts.engine.docker.tls.cert", "engine", None),
    "tls key": (_at("hosts.engine.docker.tls.key", _name), "hosts.engine.docker.tls.key", "engine", None),
    "kubeconfig": (
        _at("hosts.cluster.kubernetes.kubeconfig", _name),
        "hosts.cluster.kubernetes.kubeconfig",
        "cluster",
        None,
    ),
    "registry auth, protected runner": (
        _at("runners.release.registryAuth", _ref),
        "runners.release.registryAuth",
        "job",
        True,
    ),
    "registry auth, unprotected runner": (
        _at("runners.tests.registryAuth", _ref),
        "runners.tests.registryAuth",
        "job",
        False,
    ),
    "protected variable": (lambda key: _variable("DEPLOY_TOKEN", key, True), "variables[", "job", True),
    "unprotected variable": (lambda key: _variable("TEST_TOKEN", key, False), "variables[", "job", False),
    "masked protected variable": (lambda key: _variable("SIGNING_KEY", key, True, True), "variables[", "job", True),
    "fleet cache": (_at("cache", _s3), "cache.s3.accessKey", "cache", None),
    "runner cache": (
        _at("runners.k8s.cache", lambda key: _s3(key, "k8s-cache")),
        "runners.k8s.cache.s3.accessKey",
        "cache",
        None,
    ),
    "gitlab CA": (_at("gitlabCaBundle", _ref), "gitlabCaBundle", "ca", None),
}


MASKED = {"protected variable": False, "unprotected variable": False, "masked protected variable": True}


def _allowed(first: str, second: str) -> bool:
    """The issue's rule: one role, and for roles that reach jobs one protection level too."""
    (_, _, role_a, level_a), (_, _, role_b, level_b) = SLOTS[first], SLOTS[second]
    if role_a != role_b or role_a == "ca":
        return False
    if first in MASKED and second in MASKED and MASKED[first] != MASKED[second]:
        return False  # the unmasked variable would print what the masked one hides
    return role_a != "job" or level_a == level_b


def _both(*edits: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def edit(values: dict[str, Any]) -> None:
        for one in edits:
            one(values)

    return edit


def _values(*edits: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    values = copy.deepcopy(BASE)
    for edit in edits:
        edit(values)
    return values


def _problems(values: dict[str, Any], secrets: tuple[str, ...]) -> list[str]:
    secrets = tuple(k for k in secrets if repr(k) in repr(values))  # set only when used: an unused key is refused
    given = {**values, **dict.fromkeys(secrets, REDACTED)}
    try:
        parse_spec(given, stack="test", secret_keys=secrets)
    except SpecError as exc:
        return list(exc.problems)
    return []


def _secrets_of(*keys: str) -> tuple[str, ...]:
    return (*BASE_SECRETS, "s3Secret", *keys)


PAIRS = list(itertools.combinations(SLOTS, 2))


def test_the_base_fleet_is_valid_and_every_slot_alone_is_valid() -> None:
    assert _problems(_values(), _secrets_of()) == []
    for slot, (use, _, _, _) in SLOTS.items():
        assert _problems(_values(use("shared")), _secrets_of("shared")) == [], slot


@pytest.mark.parametrize(("first", "second"), PAIRS, ids=[f"{a} + {b}" for a, b in PAIRS])
def test_one_key_in_two_uses(first: str, second: str) -> None:
    use_a, path_a, _, _ = SLOTS[first]
    use_b, path_b, _, _ = SLOTS[second]
    problems = _problems(_values(use_a("shared"), use_b("shared")), _secrets_of("shared"))
    if _allowed(first, second):
        assert problems == []
        return
    mine = [line for line in problems if "'shared'" in line]
    assert len(mine) == 1, problems
    line = mine[0]
    # Both uses named: one as the key path of the line, the other in its message.
    assert path_a in line and path_b in line, line
    assert "needs a key of its own" in line


@pytest.mark.parametrize(
    ("slot", "other", "fragment"),
    [
        ("registry auth, unprotected runner", "tls key", "jobs would receive Docker engine TLS material (root on"),
        ("protected variable", "kubeconfig", "jobs would receive a kubeconfig"),
        ("gitlab CA", "tls ca", "jobs would receive Docker engine TLS material"),
        ("registry auth, protected runner", "fleet cache", "jobs would receive a cache credential"),
        ("kubeconfig", "tls cert", "one credential serves one role"),
        ("registry auth, protected runner", "registry auth, unprotected runner", "never reaches unprotected ones"),
        ("protected variable", "unprotected variable", "never reaches unprotected ones"),
        ("masked protected variable", "protected variable", "job logs would show the masked value"),
        ("protected variable", "registry auth, unprotected runner", "never reaches unprotected ones"),
    ],
)
def test_the_refusal_says_why(slot: str, other: str, fragment: str) -> None:
    problems = _problems(_values(SLOTS[slot][0]("shared"), SLOTS[other][0]("shared")), _secrets_of("shared"))
    assert any(fragment in line for line in problems), problems


def test_two_runners_share_registry_auth_at_one_protection_level() -> None:
    values = _values(
        _at("runners.release.registryAuth", _ref)("pull"),
        _at("runners.deploy.registryAuth", _ref)("pull"),
        _variable("PULL", "pull", True),
    )
    assert _problems(values, _secrets_of("pull")) == []


def test_a_variable_is_named_by_its_index_and_a_key_shared_by_many_is_said_once_per_use() -> None:
    values = _values(
        _variable("A", "engineKey", False), _variable("B", "engineKey", True), _variable("C", "engineKey", True)
    )
    problems = _problems(values, _secrets_of())
    assert [line.split(":")[0] for line in problems] == [
        "variables[0].secret",
        "variables[1].secret",
        "variables[2].secret",
    ]
    assert all("hosts.engine.docker.tls.key" in line for line in problems)


# Generated: a few keys spread over random slots; a key is refused exactly when two of its uses may not share it.
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(sorted(SLOTS)), st.sampled_from(["k1", "k2", "k3"]), min_size=1))
def test_generated_assignments(assignment: dict[str, str]) -> None:
    values = _values(*(SLOTS[slot][0](key) for slot, key in assignment.items()))
    problems = _problems(values, _secrets_of("k1", "k2", "k3"))
    by_key: dict[str, list[str]] = {}
    for slot, key in assignment.items():
        by_key.setdefault(key, []).append(slot)
    for key, slots in by_key.items():
        refused = not all(_allowed(a, b) for a, b in itertools.combinations(slots, 2))
        mine = [line for line in problems if f"{key!r}" in line]
        assert bool(mine) == refused, (key, slots, problems)
        for line in mine:
            assert sum(SLOTS[slot][1] in line for slot in slots) >= 2 or line.count("variables[") >= 2, line
    mentioned = {key for key in ("k1", "k2", "k3") if any(f"{key!r}" in line for line in problems)}
    assert mentioned <= set(by_key)


# The same value under two keys: equal ciphertexts in the stack file (the Pulumi CLI encrypts with a fresh nonce, so
# a copied ciphertext is the one way two keys hold the same committed value).
CIPHER = ciphertext("the engine's key")


def _stack(tmp_path: Path, values: dict[str, Any], ciphers: dict[str, str]) -> Path:
    used = [k for k in (*BASE_SECRETS, "s3Secret") if repr(k) in repr(values)]
    extra = {
        (key if ":" in key else f"runner-fleet:{key}"): {"secure": cipher}
        for key, cipher in {
            **{k: ciphertext(k) for k in used},
            **ciphers,
        }.items()
    }
    return write_stack(tmp_path, values, "test", extra)


def _plan_problems(path: Path) -> list[str]:
    try:
        engine.run(read_stack_file(path))
    except SpecError as exc:
        return list(exc.problems)
    return []


VALUE_CASES = [
    (
        "registry auth holds the engine's TLS key",
        _at("runners.tests.registryAuth", _ref)("pull"),
        {"engineKey": CIPHER, "pull": CIPHER},
        ["runners.tests.registryAuth", "hosts.engine.docker.tls.key"],
    ),
    (
        "a variable holds the kubeconfig",
        _variable("KUBE", "kube", False),
        {"clusterConfig": CIPHER, "kube": CIPHER},
        ["variables[", "hosts.cluster.kubernetes.kubeconfig"],
    ),
    (
        "a variable holds the GitLab token",
        _variable("GL", "gl", True),
        {"gitlab:token": CIPHER, "gl": CIPHER},
        ["variables[", "gitlab:token"],
    ),
    (
        "a protected variable's value in an unprotected one",
        _both(_variable("A", "a", True), _variable("B", "b", False)),
        {"a": CIPHER, "b": CIPHER},
        ["variables[1].secret", "variables[0].secret"],
    ),
    (
        "registry auth of both levels",
        _both(_at("runners.release.registryAuth", _ref)("p"), _at("runners.tests.registryAuth", _ref)("u")),
        {"p": CIPHER, "u": CIPHER},
        ["runners.tests.registryAuth", "runners.release.registryAuth"],
    ),
]


@pytest.mark.parametrize(("case", "edit", "ciphers", "named"), VALUE_CASES, ids=[c[0] for c in VALUE_CASES])
def test_one_value_under_two_keys_in_two_roles(
    tmp_path: Path, case: str, edit: Callable[[dict[str, Any]], None], ciphers: dict[str, str], named: list[str]
) -> None:
    path = _stack(tmp_path, _values(edit), ciphers)
    problems = _plan_problems(path)
    assert problems, case
    assert all(any(fragment in line for line in problems) for fragment in named), problems
    text = "\n".join(problems)
    assert all(part not in text for part in CIPHER.split(":")[1:]) and "mock-secret-value" not in text
    assert hashlib.sha256(CIPHER.encode()).hexdigest()[:12] not in text  # not even the ciphertext's digest
    # A different value under each key: accepted.
    different = {key: ciphertext(f"another value for {key}") for key in ciphers}
    assert _plan_problems(_stack(tmp_path, _values(edit), different)) == []


def test_one_value_under_two_keys_of_one_role_and_level_is_fine(tmp_path: Path) -> None:
    edit = _both(_at("runners.release.registryAuth", _ref)("a"), _at("runners.deploy.registryAuth", _ref)("b"))
    assert _plan_problems(_stack(tmp_path, _values(edit), {"a": CIPHER, "b": CIPHER})) == []


def test_the_plan_command_refuses_a_copied_ciphertext_with_exit_2_and_never_shows_it(tmp_path: Path) -> None:
    path = _stack(
        tmp_path, _values(_at("runners.tests.registryAuth", _ref)("pull")), {"engineKey": CIPHER, "pull": CIPHER}
    )
    done = plan_command("--stack-file", str(path), "--out", str(tmp_path / "out"))
    assert done.returncode == 2, done.stderr
    assert "runners.tests.registryAuth" in done.stderr and "hosts.engine.docker.tls.key" in done.stderr
    assert all(part not in done.stderr + done.stdout for part in CIPHER.split(":")[1:])
    assert not (tmp_path / "out" / "plan.json").exists()


# At preview and apply the program reads decrypted values: the same check on them, through the program's own load().
def _load_problems(values: dict[str, Any], secrets: dict[str, str]) -> list[str]:
    config = {f"runner-fleet:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
    config.update({(k if ":" in k else f"runner-fleet:{k}"): v for k, v in secrets.items()})
    keys = [k if ":" in k else f"runner-fleet:{k}" for k in secrets]
    try:
        engine.run_function(load, config=config, secret_keys=keys)
    except SpecError as exc:
        return list(exc.problems)
    return []


SECRET_PEM = "-----BEGIN PRIVATE KEY-----\nnot-a-real-key-but-secret\n-----END PRIVATE KEY-----\n"


def test_at_preview_equal_decrypted_values_are_refused_without_showing_them() -> None:
    values = _values(_at("runners.tests.registryAuth", _ref)("pull"))
    secrets = {k: f"distinct value of {k}" for k in BASE_SECRETS}
    problems = _load_problems(values, {**secrets, "engineKey": SECRET_PEM, "pull": SECRET_PEM.strip()})
    assert len(problems) == 1 and problems[0].startswith("runners.tests.registryAuth:"), problems
    assert "hosts.engine.docker.tls.key" in problems[0] and "not-a-real-key" not in problems[0]
    assert _load_problems(values, {**secrets, "engineKey": SECRET_PEM, "pull": '{"auths": {}}'}) == []


def test_at_preview_the_gitlab_token_as_a_variable_is_refused() -> None:
    values = _values(_variable("GL", "gl", True))
    secrets = {k: f"distinct value of {k}" for k in BASE_SECRETS}
    problems = _load_problems(
        values, {**secrets, "gitlab:token": "glpat-0123456789abcdefghij", "gl": "glpat-0123456789abcdefghij"}
    )
    assert len(problems) == 1 and problems[0].startswith("variables[0].secret:"), problems
    assert "gitlab:token" in problems[0] and "glpat" not in problems[0]


@pytest.mark.parametrize(
    ("value", "known"),
    [
        ("mock-secret-value-of-runner-fleet:a-0123456789ab", True),
        ("mock-secret-value-of-runner-fleet:a-esc", False),
        ("", False),
        ("  \n", False),
        ("hunter2", True),
    ],
)
def test_what_a_fingerprint_knows(value: str, known: bool) -> None:
    mark = credentials.fingerprint(value)
    assert (mark is not None) == known
    if mark is not None and not value.startswith("mock-"):
        assert value not in mark


def test_equal_ciphertexts_under_two_keys_have_one_fingerprint_and_esc_stand_ins_none() -> None:
    a = credentials.fingerprint("mock-secret-value-of-runner-fleet:a-0123456789ab")
    b = credentials.fingerprint("mock-secret-value-of-gitlab:token-0123456789ab")
    assert a == b
    assert credentials.fingerprint("mock-secret-value-of-runner-fleet:a-esc") is None


# Generated: slots get keys (case matters: k1 and K1 are two keys), keys get ciphertexts from a small pool; two uses
# hold one credential when their keys or their ciphertexts are equal, and the plan refuses exactly the pairs the
# issue forbids, naming both uses, never a ciphertext.
CIPHERS = (ciphertext("a"), ciphertext("b"), ciphertext("c"))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(st.sampled_from(sorted(SLOTS)), st.sampled_from(["k1", "K1", "k2"]), min_size=2, max_size=4),
    st.fixed_dictionaries({k: st.sampled_from(CIPHERS) for k in ("k1", "K1", "k2")}),
)
def test_generated_values_under_keys(assignment: dict[str, str], ciphers: dict[str, str]) -> None:
    values = _values(*(SLOTS[slot][0](key) for slot, key in assignment.items()))
    used = {key: ciphers[key] for key in set(assignment.values())}
    with tempfile.TemporaryDirectory() as directory:
        problems = _plan_problems(_stack(Path(directory), values, used))
    same = [
        (a, b)
        for a, b in itertools.combinations(assignment, 2)
        if assignment[a] == assignment[b] or used[assignment[a]] == used[assignment[b]]
    ]
    forbidden = [(a, b) for a, b in same if not _allowed(a, b)]
    assert bool(problems) == bool(forbidden), (assignment, used, problems)
    text = "\n".join(problems)
    assert not any(part in text for cipher in CIPHERS for part in cipher.split(":")[1:])
    # Each forbidden sharing is said (at one use, naming the other), and each line names two uses.
    paths = {SLOTS[slot][1] for slot in assignment}
    for a, b in forbidden:
        assert any(SLOTS[a][1] in line or SLOTS[b][1] in line for line in problems), (a, b, problems)
    for line in problems:
        assert sum(path in line for path in paths) >= 2 or line.count("variables[") >= 2, line
