"""The lane's fixtures: one private dockerd for the session (started here, stopped and removed at the end, a failure
and never a skip when it cannot start) and the stand-in images on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.engine.daemon import Engine, private_dockerd
from tests.engine.deploy import StandIns


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    with private_dockerd() as daemon:
        yield daemon


@pytest.fixture(scope="session")
def standins(engine: Engine) -> StandIns:
    images = StandIns(engine)
    images.build()
    return images
