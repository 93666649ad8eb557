"""A real PostgreSQL, once per session (tests/headoffice/pg.py); a fresh database per test.
The provisioned branch (`provisioned`, `branch_broker`) comes from tests/provision."""

from __future__ import annotations

import pytest

from nowserving.reports.sample import write_sample_log
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


@pytest.fixture(scope="session")
def branch_log(tmp_path_factory):
    """Three simulated days of a branch in Shanghai, with ratings and printed estimates
    (test_visits.py, test_months.py)."""
    path = tmp_path_factory.mktemp("log") / "events.sqlite"
    write_sample_log(path, days=3, seed=7, estimates=True, timezone="Asia/Shanghai")
    return path


@pytest.fixture
def dsn(postgres) -> str:
    return postgres.database()
