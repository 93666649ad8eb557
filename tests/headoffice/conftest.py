"""A real PostgreSQL, once per session (tests/headoffice/pg.py); a fresh database per test.
The provisioned branch (`provisioned`, `branch_broker`) comes from tests/provision."""

from __future__ import annotations

import pytest

from tests.provision.conftest import branch_broker, provisioned  # noqa: F401

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
