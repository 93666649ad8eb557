"""The `nowserving` command's operator subcommands and exit codes."""

from __future__ import annotations

import pytest

from nowserving.cli import main
from nowserving.config import EXAMPLE


def test_check_config_ok(capsys):
    assert main(["check-config", str(EXAMPLE)]) == 0
    assert "OK — branch pudong: 5 services, 6 counters, 11 devices" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("url", "warned"),
    [
        (None, "no ticket_url: tickets print no QR code"),
        ("https://q.example/{branch}/t/{token}", None),
        ("https://q.example/ticket?b={branch}&t={token}", "does not end in /{branch}/t/{token}"),
        ("http://192.168.1.2:8080/{branch}/t/{token}", "plain http"),
    ],
)
def test_check_config_warns_of_a_ticket_url_the_web_role_does_not_serve(
    tmp_path, capsys, url, warned
):
    text = EXAMPLE.read_text(encoding="utf-8")
    if url is not None:
        text = text.replace("[branch]\n", f'[branch]\nticket_url = "{url}"\n', 1)
    path = EXAMPLE.parent / "bank-branch.toml" if url is None else tmp_path / "branch.toml"
    if url is not None:
        for other in EXAMPLE.parent.iterdir():  # what the branch file names beside it
            if other.name != EXAMPLE.name:
                (tmp_path / other.name).write_bytes(other.read_bytes())
        path.write_text(text, encoding="utf-8")
    assert main(["check-config", str(path)]) == 0
    warnings = [line for line in capsys.readouterr().out.splitlines() if "warning:" in line]
    assert [warned in w for w in warnings] == ([True] if warned else [])


def test_check_config_lists_every_problem_and_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        EXAMPLE.read_text(encoding="utf-8")
        .replace('prefix = "A"', 'prefix = "a"')
        .replace('role = "kiosk"', 'role = "kisok"', 1),
        encoding="utf-8",
    )
    assert main(["check-config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "2 problem(s)" in err
    assert "services[0].prefix" in err and "did you mean 'kiosk'?" in err


def test_broker_acl_for_the_example(capsys):
    assert main(["broker-acl", "--config", str(EXAMPLE)]) == 0
    acl = capsys.readouterr().out
    assert "user lobby-1\ntopic read nowserving/v2/pudong/state\n" in acl
    assert "topic write nowserving/v2/pudong/cmd/kiosk-1" in acl
    assert "topic write nowserving/v2/pudong/cmd/lobby-1" not in acl


def test_simulate_a_branch_scenario_file(capsys):
    scenario = EXAMPLE.parent / "branch-scenario.toml"
    assert main(["simulate", "--scenario", str(scenario), "--customers", "700"]) == 0
    out = capsys.readouterr().out
    assert "How the days went" in out and "cash" in out
    assert "ours / QL_m RASE" in out and "80% interval: coverage" in out


def test_scenarios_are_listed_and_an_unknown_one_is_an_error(capsys):
    assert main(["scenarios"]) == 0
    assert "mm100-95" in capsys.readouterr().out
    assert main(["simulate", "--scenario", "nope"]) == 2
    assert "no built-in scenario or file 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--broker", "nonsense"], "'nonsense' is not HOST:PORT"),
        (["--broker", "host:99999"], "is not HOST:PORT"),
        (["--password-file", "/no/such/file"], "cannot read /no/such/file"),
    ],
)
def test_bad_server_options_get_a_clear_message_not_a_traceback(argv, says, capsys, tmp_path):
    """GIVEN a wrong option WHEN the server starts THEN it says what is wrong and exits 2."""
    with pytest.raises(SystemExit) as exit_info:
        main(["server", "--config", str(EXAMPLE), "--db", str(tmp_path / "e.sqlite"), *argv])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and says in err and "Traceback" not in err
