"""The branch config: the example is valid, and bad files list every problem at once."""

from __future__ import annotations

import pytest

from nowserving.config import EXAMPLE, load_config
from nowserving.errors import ConfigError
from nowserving.protocol import Role

GOOD = EXAMPLE.read_text(encoding="utf-8")


def problems_of(tmp_path, text: str) -> list[str]:
    path = tmp_path / "branch.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.problems


def test_example_branch_is_valid_bilingual_with_overlapping_skills():
    config = load_config(EXAMPLE)
    rules = config.rules
    assert len(rules.services) >= 4 and len(rules.counters) >= 6
    assert rules.languages == ("zh", "en")
    for service in rules.services.values():
        assert service.names["zh"] and service.names["en"]
    served = [s for c in rules.counters.values() for s in c.services]
    assert any(served.count(s) > 1 for s in rules.services), "no skill overlaps"
    assert config.devices["counter-3"].counter == "c3"


def test_every_error_is_reported_at_once_with_location_and_hint(tmp_path):
    text = (
        GOOD.replace('services = ["cash", "accounts"]', 'services = ["cash", "acounts"]')
        .replace('prefix = "C"', 'prefix = "c1"')
        .replace('timezone = "Asia/Shanghai"', 'timezone = "Mars/Olympus"')
        .replace('role = "display"', 'role = "dispaly"')
        .replace('last_ticket_at = "16:00"', 'last_ticket_at = "25:00"')
        .replace('transfer_placement = "front"', 'transfer_placment = "front"')
    )
    problems = problems_of(tmp_path, text)
    expected = [
        "counters[1].services[1]: unknown service 'acounts' (did you mean 'accounts'?)",
        "services[2].prefix: must be one or two capital letters, not 'c1'",
        "branch.timezone: unknown time zone 'Mars/Olympus'",
        "devices[2].role: unknown role 'dispaly' (did you mean 'display'?)",
        "services[2].last_ticket_at: '25:00' is not a time of day",
        "queue.transfer_placment: unknown key (did you mean 'transfer_placement'?)",
    ]
    for line in expected:
        assert any(p.startswith(line) for p in problems), (line, problems)
    assert len(problems) == len(expected), problems


def test_missing_names_duplicates_and_counter_devices(tmp_path):
    text = (
        GOOD.replace(
            'names = { zh = "现金存取", en = "Cash deposit & withdrawal" }',
            'names = { zh = "现金存取" }',
        )
        .replace('id = "wealth"', 'id = "loans"')
        .replace('counter = "c6"', 'counter = "c7"')
    )
    problems = problems_of(tmp_path, text)
    assert "services[0].names.en: is required (one name per language)" in problems
    assert "services[3].id: 'loans' is used twice" in problems
    assert any(
        p.startswith("devices[9].counter: a counter device names its counter; 'c7'")
        for p in problems
    )


def test_breaks_are_read_and_checked(tmp_path):
    config = load_config(EXAMPLE)
    assert config.rules.counters["c1"].breaks == ((720, 765),)
    problems = problems_of(
        tmp_path, GOOD.replace('breaks = ["12:00-12:45"]', 'breaks = ["12:45-12:00", "noon"]')
    )
    assert problems == [
        "counters[0].breaks[0]: a break must end after it starts",
        "counters[0].breaks[1]: must be like \"12:00-12:45\", not 'noon'",
    ]


def test_toml_syntax_error_names_the_line(tmp_path):
    problems = problems_of(tmp_path, '[branch]\nid = "x"\nnames = {\n')
    assert len(problems) == 1 and "line" in problems[0]


def test_wrong_types_are_reported_not_crashed_on(tmp_path):
    problems = problems_of(
        tmp_path, 'services = 3\ncounters = [1]\n[branch]\nid = 5\nlanguages = "zh"\n'
    )
    assert "branch.id: must be a string, not 5" in problems
    assert any(p.startswith("branch.languages: must be a list") for p in problems)
    assert any(p.startswith("counters: must be an array of tables") for p in problems)
    assert any(p.startswith("services: must be an array of tables") for p in problems)


def test_unreadable_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")


def test_typical_minutes_is_a_prior_for_wait_estimates(tmp_path):
    config = load_config(EXAMPLE)
    assert config.rules.services["loans"].typical_s == 20 * 60
    problems = problems_of(tmp_path, GOOD.replace("typical_minutes = 20", "typical_minutes = 0"))
    assert problems == ["services[2].typical_minutes: must be more than 0 and at most 600"]


def test_roles_are_the_protocol_vocabulary():
    config = load_config(EXAMPLE)
    assert config.devices["lobby-1"].role is Role.DISPLAY
    assert config.devices["counter-3"].role is Role.COUNTER


def test_documented_defaults_need_not_be_written(tmp_path):
    """GIVEN a branch without languages or timezone WHEN loaded THEN the defaults apply."""
    text = GOOD.replace('timezone = "Asia/Shanghai"\n', "").replace(
        'languages = ["zh", "en"]          # the first is the default\n', ""
    )
    path = tmp_path / "branch.toml"
    path.write_text(text, encoding="utf-8")
    rules = load_config(path).rules
    assert rules.timezone == "UTC" and rules.languages == ("zh", "en")


def test_a_missing_or_wrongly_typed_id_is_reported_once(tmp_path):
    problems = problems_of(tmp_path, GOOD.replace('id = "kiosk-1"', "id = 1"))
    assert problems == ["devices[0].id: must be a string, not 1"]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("queue.example/{token}", "must be an http(s) URL with {token}"),
        ("https://queue.example/{branch}/t/", "must be an http(s) URL with {token}"),
        ("https://queue.example/{number}/{token}", "may use only {branch} and {token}"),
    ],
)
def test_the_ticket_url_must_carry_a_token(tmp_path, url, says):
    """GIVEN a ticket URL template without {token} (or with an unknown field) WHEN loaded
    THEN it is refused with where and why."""
    text = GOOD.replace("[branch]\n", f'[branch]\nticket_url = "{url}"\n')
    assert text != GOOD
    problems = problems_of(tmp_path, text)
    assert len(problems) == 1 and problems[0].startswith(f"branch.ticket_url: {says}")


def test_without_a_ticket_url_tickets_promise_no_page(tmp_path):
    """GIVEN the example branch (no phone page yet) THEN its config has no ticket URL, so
    no ticket prints a QR code; with a real one it is kept."""
    from nowserving.config import EXAMPLE, load_config

    assert load_config(EXAMPLE).ticket_url is None
    path = tmp_path / "branch.toml"
    url = "https://q.bank.cn/{branch}/t/{token}"
    path.write_text(GOOD.replace("[branch]\n", f'[branch]\nticket_url = "{url}"\n'))
    assert load_config(path).ticket_url == url


def test_call_profiles_default_per_counter_and_overflow(tmp_path):
    """GIVEN the example (room 6 in_order with a 30-minute overflow) THEN the others keep
    the default, longest_wait; [queue] may change the default for every counter."""
    rules = load_config(EXAMPLE).rules
    assert (rules.counters["c6"].profile, rules.counters["c6"].overflow_s) == ("in_order", 1800)
    assert (rules.counters["c1"].profile, rules.counters["c1"].overflow_s) == (
        "longest_wait",
        None,
    )
    path = tmp_path / "branch.toml"
    path.write_text(
        GOOD.replace(
            'transfer_placement = "front"',
            'transfer_placement = "front"\ncall_profile = "in_order"\noverflow_minutes = 15',
        ),
        encoding="utf-8",
    )
    rules = load_config(path).rules
    assert (rules.counters["c2"].profile, rules.counters["c2"].overflow_s) == ("in_order", 900)
    assert rules.counters["c6"].overflow_s == 1800  # its own


def test_call_profile_mistakes_are_located(tmp_path):
    text = GOOD.replace('call_profile = "in_order"', 'call_profile = "in_oder"').replace(
        'services = ["cash", "accounts"]',
        'services = ["cash", "accounts"]\noverflow_minutes = -5',
    )
    text = text.replace(
        'services = ["business", "cash"]', 'services = ["business", "cash"]\noverflow_minutes = 10'
    )
    assert problems_of(tmp_path, text) == [
        "counters[1].overflow_minutes: must be from 0 to 1440",
        'counters[3].overflow_minutes: is only used with call_profile = "in_order" '
        '(this one is "longest_wait")',
        "counters[5].call_profile: unknown call profile 'in_oder' (did you mean 'in_order'?) "
        "(one of longest_wait, in_order)",
    ]


def test_counter_hours_are_read_and_checked(tmp_path):
    path = tmp_path / "branch.toml"
    path.write_text(
        GOOD.replace('breaks = ["12:00-12:45"]', 'breaks = ["12:00-12:45"]\nhours = "10:00-16:30"'),
        encoding="utf-8",
    )
    assert load_config(path).rules.counters["c1"].hours == (600, 990)
    assert load_config(EXAMPLE).rules.counters["c1"].hours is None
    problems = problems_of(
        tmp_path,
        GOOD.replace('breaks = ["12:00-12:45"]', 'hours = "16:00-10:00"').replace(
            'breaks = ["12:45-13:30"]', 'hours = "late"'
        ),
    )
    assert problems == [
        "counters[0].hours: must close after it opens",
        "counters[2].hours: must be like \"10:00-17:00\", not 'late'",
    ]


def test_a_language_without_shipped_texts_is_named(tmp_path):
    """GIVEN a branch offering a language nowserving has no screen texts for WHEN checked
    THEN the check names it, the languages there are, and where its texts would go."""
    from nowserving.config import EXAMPLE, load_config
    from nowserving.errors import ConfigError

    path = tmp_path / "branch.toml"
    path.write_text(
        EXAMPLE.read_text(encoding="utf-8").replace(
            'languages = ["zh", "en"]', 'languages = ["zh", "en", "ug"]'
        ),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "no screen texts for 'ug' (there are: en, zh): add assets/i18n/ug.toml" in str(err.value)


def test_remote_tickets_are_marked_per_service_and_limited_per_branch(tmp_path):
    """GIVEN the example WHEN read THEN Accounts may be joined remotely (others not) and the
    `[remote]` limits are taken; a bad value is reported where it is, with its bounds."""
    config = load_config(EXAMPLE)
    assert [s.id for s in config.rules.services.values() if s.remote] == ["accounts"]
    rules = config.rules
    assert (rules.remote_per_hour, rules.remote_check_in_s, rules.hall_code_s) == (30, 7200, 300)
    assert config.web.remote_per_address == 3
    problems = problems_of(tmp_path, GOOD.replace("per_hour = 30 ", "per_hour = 0 "))
    assert problems == ["remote.per_hour: must be from 1 to 10000"]
