"""The lane's fixtures: one private dockerd for the session (started here, stopped and removed at the end, a failure
and never a skip when it cannot start) and the stand-in images on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.engine.daemon import Engine, private_dockerd
from tests.engine.deploy import StandIns

_ENGINE: list[str] = []  # what the lane ran against, for the summary


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    with private_dockerd() as daemon:
        server = daemon.json("GET", "/version")
        maximum = server.get("ApiVersion")
        _ENGINE.append(f"dockerd {server.get('Version')} (API {daemon.version} negotiated, server max {maximum})")
        yield daemon


@pytest.fixture(scope="session")
def standins(engine: Engine) -> StandIns:
    images = StandIns(engine)
    images.build()
    return images


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say which engine the proof holds for: what a dockerd stores can change with its version and the API version."""
    for line in _ENGINE:
        terminalreporter.write_line(f"real engine: {line}")
