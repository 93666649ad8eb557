"""The branch config's `[webhook]` table: defaults, every problem at once, the secret file
that only the server reads, and every key documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from nowserving.config import EXAMPLE, load_config
from nowserving.config.webhook import KEYS, WebhookSettings, load_secret
from nowserving.errors import ConfigError
from nowserving.protocol.webhook import DEFAULT_KINDS

GOOD = EXAMPLE.read_text(encoding="utf-8")
DOCS = Path(__file__).parents[2] / "docs" / "config.md"


def load(tmp_path, table: str):
    path = tmp_path / "branch.toml"
    path.write_text(GOOD + "\n" + table, encoding="utf-8")
    return load_config(path)


def problems_of(tmp_path, table: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, table)
    return info.value.problems


def test_a_branch_without_the_table_has_no_webhook():
    assert load_config(EXAMPLE).webhook is None


def test_a_minimal_table_gets_the_documented_defaults(tmp_path):
    """GIVEN urls and a secret file only THEN every other key has its documented default,
    and the secret file is found beside the branch config."""
    config = load(tmp_path, '[webhook]\nurls = ["https://sms.bank.example/hook"]\n'
                  'secret_file = "webhook-secret"\n')  # fmt: skip
    assert config.webhook == WebhookSettings(
        urls=("https://sms.bank.example/hook",), secret_file=tmp_path / "webhook-secret"
    )
    assert config.webhook.events == DEFAULT_KINDS and not config.webhook.ask_phone
    assert (config.webhook.near_ahead, config.webhook.near_minutes) == (3, 5.0)


def test_every_problem_is_reported_at_once(tmp_path):
    problems = problems_of(
        tmp_path,
        '[webhook]\nurls = ["ftp://x", "https://ok.example/"]\nevents = ["called", "caled"]\n'
        'ask_phone = "yes"\nattempts = 0\nretry_seconds = -1\nsecret = "in the file!"\n',
    )
    assert problems == [
        "webhook.secret: unknown key (did you mean 'secret_file'?)",
        "webhook.urls[0]: must be an http(s) URL, not 'ftp://x'",
        "webhook.secret_file: is required",
        "webhook.events[1]: unknown event 'caled' (did you mean 'called'?) (one of issued, "
        "near_turn, called, recalled, no_show, finished, booking_made, booking_reminder, "
        "booking_no_show)",
        "webhook.retry_seconds: must be more than 0 and at most 3600",
        "webhook.ask_phone: must be true or false, not 'yes'",
        "webhook.attempts: must be from 1 to 50",
    ]


def test_near_minutes_zero_means_by_people_ahead_only(tmp_path):
    config = load(tmp_path, '[webhook]\nurls = ["http://10.0.0.5/hook"]\n'
                  'secret_file = "s"\nnear_minutes = 0\nnear_ahead = 0\n')  # fmt: skip
    assert (config.webhook.near_minutes, config.webhook.near_ahead) == (None, 0)


def test_the_secret_is_read_from_its_file_and_never_shown(tmp_path):
    """GIVEN a secret file WHEN it is good THEN its stripped text is the key; WHEN it is
    missing or short THEN a ConfigError says so without the secret."""
    path = tmp_path / "webhook-secret"
    path.write_text("a" * 64 + "\n")
    assert load_secret(path) == b"a" * 64
    path.write_text("short-secret\n")
    with pytest.raises(ConfigError) as info:
        load_secret(path)
    assert "at least 32 characters" in str(info.value) and "short-secret" not in str(info.value)
    with pytest.raises(ConfigError, match="cannot read"):
        load_secret(tmp_path / "missing")


def test_every_key_is_documented():
    text = DOCS.read_text(encoding="utf-8").split("### `[webhook]`", 1)[1]
    for key in KEYS:
        assert f"| `{key}` |" in text, key
