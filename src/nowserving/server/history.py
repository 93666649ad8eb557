"""The head office's `events_range`: a range of the branch's own event log, read-only.

The head office ingests every branch's event stream through the broker bridge
(docs/headoffice.md). A broker may drop events to a slow or absent subscriber, so when the
head office finds a hole in a branch's `seq` it asks the branch server for the missing range,
and the server answers from its log: the events as the stream carries them (each with its
epoch), at most RANGE_EVENTS and about RANGE_BYTES in one reply; `next` says where to ask
again when the range did not fit.
"""

from __future__ import annotations

from nowserving.adapters.store import EventLog
from nowserving.domain import Branch
from nowserving.errors import ProtocolError
from nowserving.protocol import encode, event_message, reply_message

RANGE_EVENTS = 500  # events in one reply at most
RANGE_BYTES = 512 * 1024  # ... and about this many bytes (a branch broker takes 2 MiB)


def _seq_arg(args: dict, key: str, command_id: str, default: int | None = None) -> int:
    text = args.get(key)
    if text is None and default is not None:
        return default
    if not isinstance(text, str) or not text.isdigit() or int(text) < 1:
        raise ProtocolError("bad_args", f"{key} must be a seq (1 or more)", command_id)
    return int(text)


def events_range_reply(store: EventLog, branch: Branch, command_id: str, args: dict) -> dict:
    """The reply to `events_range` {from, to}: the log's events from `from` to `to`
    (default: as many as fit), in order. Raises ProtocolError (`bad_args`) on a bad range."""
    first = _seq_arg(args, "from", command_id)
    last = _seq_arg(args, "to", command_id, default=first + RANGE_EVENTS - 1)
    if last < first:
        raise ProtocolError("bad_args", "to must not be below from", command_id)
    events, size, upto = [], 0, None
    for epoch, event in store.events_range(first, last, RANGE_EVENTS):
        message = event_message(event, epoch)
        size += len(encode(message))
        if events and size > RANGE_BYTES:
            break
        events.append(message)
        upto = event.seq
    more = upto is not None and upto < min(last, branch.seq)
    result = {
        "epoch": branch.epoch,
        "seq": branch.seq,
        "from": first,
        "to": last,
        "events": events,
        "next": upto + 1 if more else None,
    }
    return reply_message(command_id, {"ok": True}, result)
