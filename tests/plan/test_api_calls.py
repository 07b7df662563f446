"""plan.api_calls: what the real engine asks the providers for stays minimal and grows linearly with the fleet.

One lookup per distinct group or project path of a registration (variables take paths, numeric IDs need none),
no repeated lookup, one provider per Docker engine or cluster and one GitLab provider, one read per resource.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.fleets import fleet
from components.plan import api_calls, engine
from components.plan.stack_file import read_stack_file
from tests.fleets import write_stack


def _count(tmp_path: Path, values: dict[str, Any]) -> dict[str, Any]:
    return api_calls.count(engine.run(read_stack_file(write_stack(tmp_path, values, "bench"))))


def _paths(values: dict[str, Any], kind: str) -> set[str]:
    return {r["scope"][kind] for r in values["runners"].values() if isinstance(r["scope"].get(kind), str)}


@pytest.fixture(scope="module")
def counted(tmp_path_factory: pytest.TempPathFactory) -> dict[int, tuple[dict[str, Any], dict[str, Any]]]:
    return {n: (fleet(n), _count(tmp_path_factory.mktemp(f"f{n}"), fleet(n))) for n in (40, 80)}


def test_one_lookup_per_distinct_registration_path_and_none_repeated(counted: dict[int, Any]) -> None:
    for values, found in counted.values():
        assert found["lookups"] == {
            api_calls.GET_GROUP: len(_paths(values, "group")),
            api_calls.GET_PROJECT: len(_paths(values, "project")),
        }
        assert found["repeatedLookups"] == 0


def test_one_provider_per_engine_or_cluster_and_one_for_gitlab(counted: dict[int, Any]) -> None:
    for values, found in counted.values():
        kinds = [next(iter(h)) for h in values["hosts"].values()]
        assert found["providers"] == {
            "docker": kinds.count("docker"),
            "gitlab": 1,
            "kubernetes": kinds.count("kubernetes"),
        }


def test_gitlab_work_is_one_create_and_one_read_per_registration_and_variable(counted: dict[int, Any]) -> None:
    for values, found in counted.values():
        assert found["creates"]["gitlab"] == len(values["runners"]) + len(values["variables"])
        assert found["refreshReads"] == found["creates"]
        lookups = found["lookups"][api_calls.GET_GROUP] + 2 * found["lookups"][api_calls.GET_PROJECT]
        assert found["gitlabRequests"]["previewRefresh"] == found["creates"]["gitlab"] + lookups + 2
        assert found["gitlabRequests"]["preview"] == lookups + 2


def test_nothing_grows_faster_than_the_fleet(counted: dict[int, Any]) -> None:
    (_, small), (_, large) = counted[40], counted[80]
    for kind in ("creates", "refreshReads", "providers"):
        for package, n in large[kind].items():
            assert n <= 2 * small[kind][package], (kind, package)
    assert large["gitlabRequests"]["previewRefresh"] <= 2 * small["gitlabRequests"]["previewRefresh"]


def test_no_token_check_is_counted_when_early_auth_check_is_off(tmp_path: Path) -> None:
    values = fleet(10)
    plain = _count(tmp_path / "on", values) if (tmp_path / "on").mkdir() is None else {}
    (tmp_path / "off").mkdir()
    path = write_stack(tmp_path / "off", values, "bench", extra={"gitlab:earlyAuthCheck": False})
    off = api_calls.count(engine.run(read_stack_file(path)))
    assert plain["gitlabRequests"]["preview"] - off["gitlabRequests"]["preview"] == api_calls.CONFIGURE_REQUESTS


def test_refresh_time_is_paced_by_the_rate_limit_or_by_parallel_requests() -> None:
    # GitLab.com's 2,000 requests a minute: the client paces itself at 0.66 of it, 22 a second.
    assert api_calls.refresh_seconds(2200, 2000, 10, 0.25) == pytest.approx(100)
    assert api_calls.refresh_seconds(2200, 0, 10, 0.25) == pytest.approx(55)  # no limit: parallel x latency
    assert api_calls.refresh_seconds(2200, 2000, 1, 0.25) == pytest.approx(550)  # --parallel 1: latency-bound
