"""Staffing advice at the head office against a real PostgreSQL: a branch's simulated days
ingested there give the same learned weekday and the same advice (Erlang C and A per
service and hour) as the branch console's, which reads the branch's own log."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nowserving.config import EXAMPLE
from nowserving.errors import ConfigError
from nowserving.headoffice.db import HeadOfficeDb
from nowserving.headoffice.regions import load_regions, read_regions
from nowserving.headoffice.staffing import learn_branch
from nowserving.reports.history import learn
from nowserving.reports.sample import write_sample_log
from nowserving.reports.staffing import Target, advise
from tests.headoffice.test_visits import ZONE, ingest, rows_of

# The example branch's config with cash and accounts one group (its zone is ZONE).
GROUP = """
[[groups]]
id = "personal"
names = { zh = "个人业务", en = "Personal banking" }
services = ["cash", "accounts"]
"""


def grouped_config(folder, branch: str = "pudong"):
    """The example config as `branch`'s, with GROUP, written in `folder`: its path."""
    path = folder / f"{branch}.toml"
    text = EXAMPLE.read_text(encoding="utf-8").replace('id = "pudong"', f'id = "{branch}"', 1)
    path.write_text(text + GROUP, encoding="utf-8")
    pins = EXAMPLE.with_name("staff-pins.toml")
    (folder / pins.name).write_bytes(pins.read_bytes())
    return path


def test_the_head_office_advises_as_the_branch_console_does(dsn, tmp_path):
    """GIVEN two simulated days (a Monday and a Tuesday) of a branch in Shanghai, ingested,
    the branches file naming its config (`config =`: cash and accounts one group)
    WHEN Monday's staffing is learned from PostgreSQL and from the branch's log
    THEN the history and every row of the advice are the same; `branch_dim` keeps the
    config's services; the command prints it by name and per group without `--config`."""
    log = tmp_path / "events.sqlite"
    write_sample_log(log, days=2, seed=9, timezone=ZONE)
    config = grouped_config(tmp_path)  # ... whose counters count as closed until opened
    config.write_text(config.read_text(encoding="utf-8").replace(
        "[queue]\n", "[queue]\ncounters_start_open = false\n", 1), encoding="utf-8")  # fmt: skip
    branches = tmp_path / "branches.toml"
    branches.write_text('[branches.pudong]\nconfig = "pudong.toml"\n[branches.xuhui]\n',
                        encoding="utf-8")  # fmt: skip
    db = HeadOfficeDb(dsn)
    try:
        load_regions(db.conn, read_regions(branches))
        kept = dict(db.conn.execute("SELECT branch, services FROM branch_dim").fetchall())
        start_open = dict(
            db.conn.execute("SELECT branch, counters_start_open FROM branch_dim").fetchall()
        )
        ingest(db, rows_of(log))
        target = Target.parse("80/5")
        here = learn_branch(db.conn, "pudong", "mon", target.wait_s)
        closed = learn_branch(db.conn, "pudong", "mon", target.wait_s, counters_start_open=False)
    finally:
        db.close()
    # A branches file that names another branch's config is refused, saying whose it is.
    branches.write_text('[branches.xuhui]\nconfig = "pudong.toml"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="pudong's config, not xuhui's"):
        read_regions(branches)
    assert kept["xuhui"] == {} and kept["pudong"]["groups"] == {
        "personal": {"zh": "个人业务", "en": "Personal banking"}
    }
    assert kept["pudong"]["services"]["cash"] == {
        "zh": "现金存取",
        "en": "Cash deposit & withdrawal",
        "group": "personal",
    }
    assert kept["pudong"]["services"]["loans"] == {"zh": "贷款与按揭", "en": "Loans & mortgages"}
    there = learn(log, "mon", ZONE, target.wait_s)
    assert here.days == there.days == 1 and here.services.keys() == there.services.keys()
    rows, expected = advise(here, target), advise(there, target)
    assert len(rows) == len(expected) > 10
    for mine, theirs in zip(rows, expected, strict=True):
        # Counts and counters exactly; times to the microsecond PostgreSQL keeps of them.
        assert (mine.service, mine.hour, mine.arrivals_per_hour, mine.proposed) == (
            theirs.service,
            theirs.hour,
            theirs.arrivals_per_hour,
            theirs.proposed,
        )
        assert mine.erlang_c.counters == theirs.erlang_c.counters
        for name in ("mean_service_s", "patience_s", "had", "level_got"):
            assert getattr(mine, name) == pytest.approx(getattr(theirs, name), abs=1e-4), name
    out = subprocess.run(
        [sys.executable, "-m", "nowserving", "headoffice", "staffing", "--dsn", dsn,
         "--branch", "pudong", "--weekday", "mon", "--target", "80/5", "--days", "5",
         "--language", "en"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "Personal banking" in out.stdout and "Erlang" in out.stdout, out.stdout
    assert "Loans & mortgages" in out.stdout and "accounts" not in out.stdout, out.stdout
    # Its counters start closed as its config says (kept beside its services): as with
    # --counters-start-closed, which here changes what the counters had.
    assert start_open == {"pudong": False, "xuhui": None}
    assert [r.had for r in advise(closed, target)] != [r.had for r in rows]
    flagged = subprocess.run(
        [sys.executable, "-m", "nowserving", "headoffice", "staffing", "--dsn", dsn,
         "--branch", "pudong", "--weekday", "mon", "--target", "80/5", "--days", "5",
         "--language", "en", "--counters-start-closed"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert flagged.returncode == 0 and flagged.stdout == out.stdout, flagged.stderr


def test_a_database_a_migration_short_is_refused_naming_it(dsn, broker, example_config, tmp_path):
    """GIVEN a head-office database with every migration but the newest (a head office
    whose nowserving was updated before `headoffice migrate` ran) WHEN a command that needs
    the schema and the web role's head-office pages open it THEN each refuses, naming the
    migration to run, with no traceback. (The check compared the newest number applied with
    the count of migrations; the numbers skip, so it never refused.)"""
    import psycopg

    from nowserving.headoffice.schema import migrate, migrations, pending
    from nowserving.web.accounts import write_accounts
    from nowserving.web.console_headoffice import SCHEMA_NEEDED, add_headoffice
    from tests.web.console_fixtures import make_console

    with psycopg.connect(dsn, autocommit=True) as conn:
        migrate(conn)
        version, name = migrations()[-1]
        conn.execute("DELETE FROM schema_version WHERE version = %s", (version,))
        assert pending(conn) == [name]
    out = subprocess.run(
        [sys.executable, "-m", "nowserving", "headoffice", "staffing", "--dsn", dsn,
         "--branch", "pudong", "--weekday", "mon"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 1 and name in out.stderr and "run migrate" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
    write_accounts(tmp_path / "users.json", {})
    console = make_console([example_config], broker, tmp_path / "users.json", tmp_path)
    assert version == SCHEMA_NEEDED  # the pages need the newest shipped
    with pytest.raises(ConfigError, match=f"migration {version} not applied"):
        add_headoffice(console, dsn)
