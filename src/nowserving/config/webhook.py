"""The branch config's `[webhook]` table: where a ticket's events also go (a bank's SMS
gateway or WeChat service), signed with a secret from a file that only the server reads.

    [webhook]
    urls = ["https://sms.bank.example/nowserving"]
    secret_file = "webhook-secret"    # beside this file; never copied to a device
    ask_phone = true                  # the kiosk asks for a phone number (optional)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from nowserving.config.schema import Problems, Table, hint
from nowserving.errors import ConfigError
from nowserving.protocol.webhook import DEFAULT_KINDS, EVENT_KINDS

KEYS = (
    "urls", "secret_file", "events", "ask_phone", "near_ahead", "near_minutes",
    "timeout_seconds", "attempts", "retry_seconds", "retry_max_seconds",
    "booking_reminder_minutes",
)  # fmt: skip
MIN_SECRET = 32  # characters: `openssl rand -hex 32` makes 64


@dataclass(frozen=True)
class WebhookSettings:
    """Where ticket events go, which ones, and how hard delivery tries."""

    urls: tuple[str, ...]
    secret_file: Path
    events: tuple[str, ...] = DEFAULT_KINDS
    ask_phone: bool = False  # the kiosk offers to take a phone number for the webhook
    near_ahead: int = 3  # "near turn": this many people ahead or fewer ...
    near_minutes: float | None = 5.0  # ... or a wait (its 10th percentile) this short
    timeout_s: float = 5.0  # one request's time to answer
    attempts: int = 8  # tries before a message goes to the dead letters
    retry_s: float = 10.0  # the first retry's wait, doubled each time ...
    retry_max_s: float = 600.0  # ... up to this
    # A booking's reminder (`booking_reminder`, when in `events`) goes this long before it.
    booking_reminder_s: float = 3600.0


def parse_webhook(root: Table, source: str) -> WebhookSettings | None:
    """The `[webhook]` table (None when there is none); problems go to `root`'s list."""
    table = root.optional_table("webhook", KEYS)
    if table is None:
        return None
    urls = table.strings("urls")
    if "urls" not in table:
        table.add("urls", 'is required: the receiver\'s address, e.g. ["https://sms.bank/hook"]')
    for i, url in enumerate(urls):
        if not re.match(r"^https?://[^\s/]+\S*$", url):
            table.add(f"urls[{i}]", f"must be an http(s) URL, not {url!r}")
    secret = table.need("secret_file", str, None)
    events = table.strings("events") if "events" in table else DEFAULT_KINDS
    for i, kind in enumerate(events):
        if kind not in EVENT_KINDS:
            table.add(f"events[{i}]", f"unknown event {kind!r}{hint(kind, EVENT_KINDS)} "
                      f"(one of {', '.join(EVENT_KINDS)})")  # fmt: skip
    near_minutes = table.number("near_minutes", 5, at_least=0, at_most=240)
    retry = table.number("retry_seconds", 10, more_than=0, at_most=3600)
    return WebhookSettings(
        urls=urls,
        secret_file=Path(source).parent / (secret or "webhook-secret"),
        events=tuple(k for k in events if k in EVENT_KINDS),
        ask_phone=table.get("ask_phone", bool, False),
        near_ahead=table.number("near_ahead", 3, whole=True, at_least=0, at_most=100),
        near_minutes=None if near_minutes == 0 else float(near_minutes),
        timeout_s=float(table.number("timeout_seconds", 5, more_than=0, at_most=60)),
        attempts=table.number("attempts", 8, whole=True, at_least=1, at_most=50),
        retry_s=float(retry),
        retry_max_s=float(table.number("retry_max_seconds", 600, more_than=0, at_most=86400)),
        booking_reminder_s=60.0
        * table.number("booking_reminder_minutes", 60, more_than=0, at_most=7 * 24 * 60),
    )


def load_secret(path: Path) -> bytes:
    """The webhook secret from its file (only the server reads it); a ConfigError says
    what is wrong, never the secret."""
    p = Problems()
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as err:
        p.add("webhook.secret_file", f"cannot read {path}: {getattr(err, 'strerror', err)}")
        raise ConfigError(p.items, str(path)) from None
    if len(secret) < MIN_SECRET:
        p.add("webhook.secret_file", f"the secret must be at least {MIN_SECRET} characters "
              "(make one with `openssl rand -hex 32`)")  # fmt: skip
    p.raise_if_any(str(path))
    return secret.encode()
