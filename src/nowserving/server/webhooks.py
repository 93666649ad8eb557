"""Ticket events to a bank's own service (an SMS gateway, a WeChat service), signed, never
on the apply loop's time.

The apply loop calls `take` after each durable commit: it turns the batch's ticket events
into messages (a few dict lookups; see protocol/webhook.py), decides which waiting tickets
are now near their turn, and hands all that to this module's thread (a queue). The thread
keeps the messages in the outbox (adapters/outbox.py) with the seq they came to, then
POSTs what is due, each with a `Nowserving-Signature`. A receiver that does not answer 2xx
is tried again after `retry_seconds`, doubled each time up to `retry_max_seconds`; after
`attempts` tries (or at once, when it refuses a message with a 4xx) the message is a dead
letter (`nowserving webhooks` lists them). On a start, events that the log has and the
outbox has not (a crash in between) are taken first (`catch_up`).

A phone number from the kiosk (`keep_phone`) goes to the outbox only, never to the log, an
event, a reply or a log line; it goes when its ticket ends or the day does. One given with
`book` (`keep_booking_phone`) is kept for the booking until it checks in (then it is its
ticket's) or is cancelled or missed.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from nowserving import __version__, i18n
from nowserving.adapters.outbox import BOOKING_PREFIX, Bookings, Message, WebhookOutbox
from nowserving.adapters.store import EventLog
from nowserving.config import BranchConfig
from nowserving.config.webhook import WebhookSettings, load_secret
from nowserving.domain import Branch, Event
from nowserving.errors import ProtocolError
from nowserving.protocol.messages import Estimates
from nowserving.protocol.vocabulary import Cmd
from nowserving.protocol.webhook import (
    BOOKING_ENDING,
    ENDING,
    NEAR_TURN,
    PHONE_RE,
    SIGNATURE_HEADER,
    booking_payloads,
    near_turn_payload,
    sign,
    ticket_payload,
)

log = logging.getLogger(__name__)

NEAR_SCAN = 20  # waiting tickets per line looked at for "near turn" by their wait
IDLE_S = 1.0  # the thread looks at the outbox at least this often
# A 4xx says the receiver will not take this message, however often it comes; these four
# say "not now" instead.
RETRY_4XX = frozenset({408, 425, 429})

Post = Callable[[str, bytes, dict, float], int]  # (url, body, headers, timeout) -> status


class Webhooks:
    """The branch's webhook sender: one thread, one outbox."""

    def __init__(
        self,
        settings: WebhookSettings,
        secret: bytes,
        outbox: WebhookOutbox,
        names: Mapping[str, str],
        clock: Callable[[], float] = time.time,
        post: Post | None = None,
    ) -> None:
        self.settings = settings
        self.outbox = outbox
        self._secret = secret
        self._names = names
        self._clock = clock
        self._post = post or post_json
        self._wanted = frozenset(settings.events)
        self._near = outbox.near_sent()  # the apply loop's (and, before start, the caller's)
        self._queue: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)

    def start(self) -> None:
        """Start sending."""
        self._thread.start()

    def close(self) -> None:
        """Stop the thread (after the request under way) and close the outbox (idempotent)."""
        self._stop.set()
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout=self.settings.timeout_s + 5)
        self.outbox.close()

    def __enter__(self) -> Webhooks:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ----- the apply loop's side: cheap, never waits ----------------------------------------

    def keep_phone(self, ticket: str, phone: str) -> None:
        """Keep the phone number the kiosk took for `ticket` (called before `take` hands
        over the ticket's `ticket_issued`)."""
        self._queue.put(("phone", ticket, phone))  # apply thread -> webhook thread

    def keep_booking_phone(self, booking: str, phone: str) -> None:
        """Keep the phone number given with `book` for `booking` (called before `take`
        hands over its `booking_made`): it goes to the booking's ticket when it checks in,
        and away when the booking is cancelled or missed."""
        self._queue.put(("booking_phone", booking, phone))  # apply thread -> webhook thread

    def take(self, events: list[Event], branch: Branch, estimates: Estimates | None) -> None:
        """Hand over the messages of a committed batch (`branch` as it stands after it)."""
        if not events and NEAR_TURN not in self._wanted:
            return
        at = self._clock()
        messages = []
        ended, day, bookings = [], None, Bookings()
        for event in events:
            if event.type == "day_started":
                day = event.data.get("day") or branch.business_day
                self._near.clear()
            elif event.type in ENDING:
                ended.append(event.data["ticket"])
            elif event.type in BOOKING_ENDING:
                bookings.ended.append(event.data["booking"])
            elif event.type == "ticket_issued" and event.data.get("booking"):
                bookings.checked_in[event.data["ticket"]] = event.data["booking"]
            payload = ticket_payload(event, branch, self._names)
            if payload is not None and payload["type"] in self._wanted:
                messages.append(payload)
            messages += self._booking_messages(event, branch)
        issued = {e.data["ticket"] for e in events if e.type == "ticket_issued"}
        near = self._near_turns(branch, estimates, at, issued) if branch.business_day else []
        messages += near
        if not (messages or ended or day or events):
            return
        if bookings.checked_in or bookings.ended:
            self._queue.put(("bookings", bookings))  # -> webhook thread, before the batch
        cursor = events[-1].seq if events else None
        # Whenever the set changed (a new day empties it): the outbox keeps it for a restart.
        near_now = set(self._near) if near or issued & self._near or day else None
        self._queue.put(("batch", messages, cursor, ended, day, near_now))  # -> webhook thread

    def _booking_messages(self, event: Event, branch: Branch) -> list:
        """A booking event's messages wanted (`booking_payloads`), each with its words in
        the booking's language (`text`), and a reminder as (payload, when to send it)."""
        found = []
        for payload, when in booking_payloads(
            event, branch, self._names, self.settings.booking_reminder_s
        ):
            if payload["type"] in self._wanted:
                payload["text"] = booking_text(payload)
                found.append(payload if when is None else (payload, when))
        return found

    def catch_up(self, store: EventLog, branch: Branch) -> int:
        """Before the server starts: hand over the events the log has past the outbox's
        cursor (a crash between the two); returns how many."""
        missed = list(store.events(self.outbox.cursor)) if self.outbox.cursor else []
        if missed:
            log.warning("webhooks: %d events were not in the outbox yet; taking them now",
                        len(missed))  # fmt: skip
            self.take(missed, branch, None)
        elif not self.outbox.cursor:  # a new outbox: it starts here, not at the log's start
            self._queue.put(("batch", [], branch.seq, [], None, None))
        return len(missed)

    def _near_turns(self, branch: Branch, estimates: Estimates | None, at: float,
                    issued: set[str]) -> list[dict]:  # fmt: skip
        """Messages for waiting tickets that are near their turn now and were not before:
        `near_ahead` people or fewer ahead, or a wait whose 10th percentile is at most
        `near_minutes`. A ticket near already when it is issued (in `issued`) is not told:
        its `issued` message says how many are ahead."""
        settings = self.settings
        if NEAR_TURN not in self._wanted:
            return []
        for_tickets, _, estimated_at, _ = estimates or ({}, {}, at, 0)
        scan = settings.near_ahead + 1 + (NEAR_SCAN if settings.near_minutes else 0)
        messages = []
        for service in branch.rules.services:
            for ticket, people in branch.heads_ahead(service, scan, at):
                ahead = people.people  # bookings due ahead included, as the ticket says
                if ticket.id in self._near:
                    continue
                estimate = for_tickets.get(ticket.id)
                wait = None
                if estimate is not None:
                    gone = max(0.0, at - estimated_at)
                    wait = (max(0.0, estimate.low - gone), max(0.0, estimate.high - gone))
                soon = settings.near_minutes is not None and wait is not None
                if ahead > settings.near_ahead and not (
                    soon and wait[0] <= settings.near_minutes * 60
                ):
                    continue
                self._near.add(ticket.id)
                if ticket.id not in issued:
                    messages.append(
                        near_turn_payload(branch, self._names, ticket.id, ahead, wait, at)
                    )
        return messages

    # ----- the webhook thread ----------------------------------------------------------------

    def _run(self) -> None:
        handed: list = []
        while not self._stop.is_set():
            try:
                self._take_handed_over(handed)
                handed = []
                self._send_due()
            except Exception:  # the outbox keeps what was not sent: try again shortly
                log.exception("webhooks: sending failed; trying again")
            due = self.outbox.next_due()
            wait = IDLE_S if due is None else min(IDLE_S, max(0.0, due - self._clock()))
            try:
                item = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
            except queue.Empty:
                continue
            if item is not None:
                handed.append(item)

    def _take_handed_over(self, handed: list) -> None:
        """Keep what the apply loop handed over, in one transaction for all its batches
        (see `WebhookOutbox.take` for the order: phone numbers, the new day, the messages,
        which take their ticket's number, then what ended forgets its number)."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                handed.append(item)
        if not handed:
            return
        messages, cursor, ended, day, near, phones = [], None, [], None, None, {}
        bookings = Bookings()
        for item in handed:
            if item[0] == "phone":
                phones[item[1]] = item[2]
                continue
            if item[0] == "booking_phone":
                bookings.phones[item[1]] = item[2]
                continue
            if item[0] == "bookings":
                bookings.checked_in.update(item[1].checked_in)
                bookings.ended.extend(item[1].ended)
                continue
            _, payloads, seq, gone, new_day, near_now = item
            messages += [_kept(p, url) for p in payloads for url in self.settings.urls]
            cursor = seq if seq is not None else cursor
            ended += gone
            day = new_day or day
            near = near_now if near_now is not None else near
        self.outbox.take(messages, self._clock(), cursor, near, phones=phones, ended=ended, day=day,
                         bookings=bookings)  # fmt: skip

    def _send_due(self) -> None:
        down: dict[str, str] = {}  # url -> why its last message this pass failed
        for message in self.outbox.due(self._clock()):
            if self._stop.is_set():
                return
            if message.url in down:  # it failed a moment ago: this one counts as tried too
                self._failed(message, f"not sent: {down[message.url]}", retry=True)
                continue
            error, retry = self._send(message)
            if error is None:
                self.outbox.sent(message.n)
            else:
                if retry:
                    down[message.url] = error
                self._failed(message, error, retry)

    def _send(self, message: Message) -> tuple[str | None, bool]:
        """POST one message: (None, _) when taken, else (why not, whether to retry)."""
        body = json.dumps(message.body, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": f"nowserving/{__version__}",
            SIGNATURE_HEADER: sign(self._secret, body, int(self._clock())),
            "Nowserving-Attempt": str(message.attempts + 1),
        }
        try:
            status = self._post(message.url, body, headers, self.settings.timeout_s)
        except (OSError, ValueError) as err:  # refused, unreachable, timed out, TLS
            return _reason(err), True
        if 200 <= status < 300:
            return None, False
        return f"HTTP {status}", not (400 <= status < 500) or status in RETRY_4XX

    def _failed(self, message: Message, error: str, retry: bool) -> None:
        tries = message.attempts + 1
        settings = self.settings
        now = self._clock()
        if retry and tries < settings.attempts:
            wait = min(settings.retry_max_s, settings.retry_s * 2 ** (tries - 1))
            self.outbox.failed(message.n, error, now + wait, now)
            return
        # Logged before the dead letter is recorded, so that whoever sees one (`nowserving
        # webhooks`) finds its line. The key and the receiver's host only: never the body
        # (it may hold a phone number).
        log.warning("webhook message %s to %s is a dead letter after %d tries: %s",
                    message.body.get("id"), urlsplit(message.url).netloc, tries, error)  # fmt: skip
        self.outbox.failed(message.n, error, None, now)


def _kept(payload: dict | tuple[dict, float], url: str) -> tuple:
    """A message as the outbox keeps it: (key, url, ticket or "booking:<id>", body[, when
    it is due: a booking's reminder])."""
    body, *when = payload if isinstance(payload, tuple) else (payload,)
    owner = body["ticket"] if "ticket" in body else BOOKING_PREFIX + body["booking"]
    return (f"{body['id']} {url}", url, owner, body, *when)


def booking_text(payload: dict) -> str:
    """A booking message's words, ready to send (an SMS), in the booking's language."""
    return i18n.text(
        payload["language"], f"webhook.{payload['type']}", branch=payload["branch_name"],
        service=payload["service_name"], time=payload["booked_time"],
        start=payload["check_in_from"], end=payload["check_in_until"],
    )  # fmt: skip


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a redirect is an answer, not a 2xx
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())


def post_json(url: str, body: bytes, headers: dict, timeout: float) -> int:
    """POST `body` to `url` (standard library only); returns the HTTP status."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read(65536)  # a keep-alive connection needs it; the rest is not ours
            return response.status
    except urllib.error.HTTPError as err:
        err.close()
        return err.code


def _reason(err: BaseException) -> str:
    reason = getattr(err, "reason", None) or err
    return f"{type(reason).__name__}: {reason}"[:200]


def open_webhooks(config: BranchConfig, log_path: Path) -> Webhooks | None:
    """The branch's webhooks as its config has them (None: it has none), with their
    outbox beside the event log (`events.sqlite` -> `events-webhooks.sqlite`)."""
    if config.webhook is None:
        return None
    secret = load_secret(config.webhook.secret_file)
    outbox = WebhookOutbox(log_path.with_name(f"{log_path.stem}-webhooks.sqlite"))
    return Webhooks(config.webhook, secret, outbox, config.names)


def take_phone(kind: str, args: dict, command_id: str | None) -> tuple[dict, str | None]:
    """An `issue_ticket`'s or a `book`'s args without the customer's phone number, and the
    number (None: none given). A number that is not one is refused (ProtocolError), without
    saying it."""
    if kind not in (Cmd.ISSUE_TICKET, Cmd.BOOK) or "phone" not in args:
        return args, None
    phone = args["phone"]
    if not PHONE_RE.match(phone):
        message = "phone must be 5-15 digits, with a leading + at most"
        raise ProtocolError("bad_args", message, command_id)
    return {k: v for k, v in args.items() if k != "phone"}, phone
