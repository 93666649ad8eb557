"""A real PostgreSQL, once per session (tests/headoffice/pg.py); a fresh database per test."""

from __future__ import annotations

import pytest

from .pg import Postgres


@pytest.fixture(scope="session")
def postgres():
    try:
        server = Postgres()
        server.start()
    except RuntimeError as err:
        pytest.fail(str(err), pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def dsn(postgres) -> str:
    return postgres.database()
