"""spec.passthrough: extraConfig may set the listed keys and nothing else; every escape attempt is refused."""

from __future__ import annotations

import copy
import re

import pytest

from components.spec import SpecError, parse_spec
from components.spec.passthrough import readme_rows
from tests.conftest import ROOT
from tests.fleets import FLEET, K8S_MIXED

DOCKER_ESCAPES = [
    ('[docker]\nvolumes = ["//var//run/docker.sock:/s"]\n', "docker.volumes"),
    ('[docker]\nvolumes = ["/var/run/../run/docker.sock:/x"]\n', "docker.volumes"),
    ('[docker]\nvolumes = ["/run/docker.sock:/x:ro"]\n', "docker.volumes"),
    ('[docker]\nvolumes = ["/:/host"]\n', "docker.volumes"),
    ('[docker]\nvolumes = ["/proc/1/root:/r"]\n', "docker.volumes"),
    ('[docker]\nvolumes = ["gitlab-runner-test-edge-1-config:/etc/x"]\n', "docker.volumes"),
    ('[docker]\nvolumes = ["/cache/../../etc"]\n', "docker.volumes"),
    ('[docker]\nvolumes_from = ["gitlab-runner-test-edge-1"]\n', "docker.volumes_from"),
    ('[docker]\nvolume_driver = "local"\nvolume_driver_ops = {o = "bind", device = "/"}\n', "docker.volume_driver"),
    ('[docker]\nnetwork_mode = "container:gitlab-runner-test-edge-1"\n', "docker.network_mode"),
    ('[docker]\npid_mode = "host"\n', "docker.pid_mode"),
    ("[docker]\nPrivileged = true\n", "docker.Privileged"),
    ('[docker]\nsecurity_opt = ["seccomp=unconfined"]\n', "docker.security_opt"),
    ('[docker]\ncap_add = ["SYS_ADMIN"]\n', "docker.cap_add"),
    ('[docker]\ndevices = ["/dev/fuse"]\n', "docker.devices"),
    ('[docker]\nuser = "root"\n', "docker.user"),
    ('[docker]\nhelper_image = "evil/helper:1"\n', "docker.helper_image"),
    ('[docker]\nallowed_images = ["*"]\n', "docker.allowed_images"),
    ('[docker]\nimage = "docker:dind"\n', "docker.image"),
    ("token_expires_at = 2030-01-01T00:00:00Z\n", "token_expires_at"),
    ('clone_url = "https://attacker.example"\n', "clone_url"),
    ('environment = ["BUILDKITD_FLAGS=--oci-worker-no-process-sandbox --allow-insecure-entitlement"]\n', "environment"),
    ('environment = ["FF_USE_ADVANCED_POD_SPEC_CONFIGURATION=true"]\n', "environment"),
    ('[cache.s3]\nAccessKey = "AKIAIOSFODNN7EXAMPLE"\n', "cache"),
    ("[kubernetes]\nprivileged = true\n", "kubernetes"),
]
KUBERNETES_ESCAPES = [
    ('[kubernetes]\npod_annotations_overwrite_allowed = ".*"\n', "kubernetes.pod_annotations_overwrite_allowed"),
    (
        '[kubernetes.pod_annotations]\n"container.apparmor.security.beta.kubernetes.io/build" = "unconfined"\n',
        "kubernetes.pod_annotations",
    ),
    ('[kubernetes]\nservice_account = "gitlab-runner-eu"\n', "kubernetes.service_account"),
    ('[kubernetes]\nservice_account_overwrite_allowed = ".*"\n', "kubernetes.service_account_overwrite_allowed"),
    ('[kubernetes]\nnamespace_overwrite_allowed = ".*"\n', "kubernetes.namespace_overwrite_allowed"),
    (
        '[[kubernetes.volumes.secret]]\nname = "gitlab-runner-eu-config"\nmount_path = "/s"\n',
        "kubernetes.volumes.secret",
    ),
    (
        '[[kubernetes.volumes.host_path]]\nname = "r"\nmount_path = "/r"\nhost_path = "/"\n',
        "kubernetes.volumes.host_path",
    ),
    ('[[kubernetes.volumes.pvc]]\nname = "p"\nmount_path = "/p"\n', "kubernetes.volumes.pvc"),
    ("[kubernetes]\npod_spec = []\n", "kubernetes.pod_spec"),
    ("[kubernetes]\nhost_aliases = []\n", "kubernetes.host_aliases"),
    ('[docker]\nmemory = "1g"\n', "docker"),
]


def _problems(fleet: dict, runner: str, extra: str) -> list[str]:
    values = copy.deepcopy(fleet)
    values["runners"][runner]["extraConfig"] = extra
    with pytest.raises(SpecError) as caught:
        parse_spec(values, stack="test")
    return list(caught.value.problems)


@pytest.mark.parametrize(("extra", "key"), DOCKER_ESCAPES, ids=[k for _, k in DOCKER_ESCAPES])
def test_docker_escapes_are_refused_by_name(extra: str, key: str) -> None:
    problems = _problems(FLEET, "images", extra)
    assert any(p.startswith(f"runners.images.extraConfig.{key}:") for p in problems), problems


@pytest.mark.parametrize(("extra", "key"), KUBERNETES_ESCAPES, ids=[k for _, k in KUBERNETES_ESCAPES])
def test_kubernetes_escapes_are_refused_by_name(extra: str, key: str) -> None:
    problems = _problems(K8S_MIXED, "eu-images", extra)
    assert any(p.startswith(f"runners.eu-images.extraConfig.{key}:") for p in problems), problems


def test_a_pasted_credential_is_not_repeated() -> None:
    problems = _problems(FLEET, "unit", '[cache.s3]\nSecretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"\n')
    assert any(p.startswith("runners.unit.extraConfig.cache: not allowed: the distributed cache is") for p in problems)
    assert not any("wJalrXUtnFEMI" in p for p in problems)


def test_what_is_listed_passes() -> None:
    values = copy.deepcopy(FLEET)
    values["runners"]["unit"]["extraConfig"] = (
        'output_limit = 8192\nenvironment = ["GIT_DEPTH=10"]\npre_build_script = "echo hi"\n'
        '[docker]\nmemory = "2g"\ncpus = "2"\nvolumes = ["/cache", "/certs/client"]\ndns = ["10.0.0.2"]\n'
    )
    parse_spec(values, stack="test")
    k8s = copy.deepcopy(K8S_MIXED)
    k8s["runners"]["eu-images"]["extraConfig"] = (
        '[kubernetes]\ncpu_limit = "4"\nhelper_memory_request = "64Mi"\npoll_timeout = 300\n'
        '[[kubernetes.volumes.empty_dir]]\nname = "scratch"\nmount_path = "/scratch"\n'
    )
    parse_spec(k8s, stack="test")


@pytest.mark.parametrize(
    "pattern", ["*", "**", "*/buildkit:*rootless", "moby/buildkit:*", "evil/buildkit-x:rootless", "docker:dind"]
)
def test_a_buildkit_runner_allows_only_rootless_buildkit_images(pattern: str) -> None:
    values = copy.deepcopy(FLEET)
    values["runners"]["images"]["allowedImages"] = ["moby/buildkit:*rootless", pattern]
    with pytest.raises(SpecError) as caught:
        parse_spec(values, stack="test")
    assert any(p.startswith("runners.images.allowedImages[1]: ") for p in caught.value.problems), caught.value.problems


def test_the_readme_lists_exactly_the_allowed_keys() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### What extraConfig may set", 1)[1].split("\n#", 1)[0]
    listed = re.findall(r"^\| `([^`]+)` \|", section, re.M)
    assert listed == [key for key, _ in readme_rows()]


def test_anyone_s_image_named_buildkit_is_refused() -> None:
    values = copy.deepcopy(FLEET)
    values["runners"]["images"] = {"host": "edge-1", "scope": {"instance": True}, "tags": ["b"], "buildkit": True}
    values["runners"]["images"].update(
        allowedImages=["docker.io/attacker/buildkit:*rootless"], image="docker.io/attacker/buildkit:v1-rootless"
    )
    with pytest.raises(SpecError, match=r"runners\.images\.allowedImages\[0\]: .* is not moby's rootless BuildKit"):
        parse_spec(values, stack="test")


SCRIPT_CREDENTIALS = [
    "curl -u admin:hunter2 https://x.acme.test",
    "curl --user 'admin:hunter2' https://x.acme.test",
    "mysql -h db -u root -phunter2 app < dump.sql",
    "mysqldump --password=hunter2 app",
    "echo x | docker login -u ci -p hunter2 registry.acme.test",
    "wget --http-password hunter2 https://x.acme.test",
    "openssl enc -d -pass pass:hunter2 -in x",
    "curl -H 'Authorization: Bearer hunter2hunter2' https://x.acme.test",
    "curl -H 'PRIVATE-TOKEN: hunter2hunter2' https://gitlab.acme.test/api/v4/projects",
    "PGPASSWORD=hunter2 psql -h db app",
    "export DB_PW=hunter2",
    "git clone https://ci:hunter2@git.acme.test/x.git",
    "migrate -database 'app:hunter2@tcp(db:3306)/app' up",
    "sqlcmd -Q x -C 'Server=db;User Id=sa;Password=hunter2;'",
]


@pytest.mark.parametrize("key", ["pre_build_script", "post_build_script", "pre_get_sources_script"])
@pytest.mark.parametrize("script", SCRIPT_CREDENTIALS)
def test_a_credential_in_a_script_is_refused_without_echo(key: str, script: str) -> None:
    problems = _problems(FLEET, "unit", f"{key} = {_toml(script)}\n")
    assert any(p.startswith(f"runners.unit.extraConfig.{key}: ") for p in problems), problems
    assert all("hunter2" not in p for p in problems), problems


@pytest.mark.parametrize(
    "script",
    [
        "mysql -h db -u root -p app",  # -p alone prompts
        'mysql -u root -p"$MYSQL_PASSWORD" app',
        'echo "$CI_REGISTRY_PASSWORD" | docker login -u "$CI_REGISTRY_USER" --password-stdin "$CI_REGISTRY"',
        'curl --header "PRIVATE-TOKEN: $API_TOKEN" -u "$USER:$PASS" https://x.acme.test',
        "mkdir -p /cache && docker run --rm -u 1000:1000 -p 8080:80 alpine true",
        "patch -p1 < fix.diff && gcc -pthread x.c",
        "export DB_PASSWORD=$DB_PASSWORD_FROM_CI PASSWORD_MIN_LENGTH=12",
        "docker buildx build --secret id=npmrc,src=$HOME/.npmrc .",
        "git clone git@git.acme.test:acme/x.git",
    ],
)
def test_scripts_that_take_credentials_from_variables_pass(script: str) -> None:
    values = copy.deepcopy(FLEET)
    values["runners"]["unit"]["extraConfig"] = f"pre_build_script = {_toml(script)}\n"
    parse_spec(values, stack="test")


def _toml(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
