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


def _epoch_arg(args: dict, command_id: str) -> int | None:
    text = args.get("epoch")
    if text is None:
        return None
    if not isinstance(text, str) or not text.isdigit():
        raise ProtocolError("bad_args", "epoch must be a number (0 or more)", command_id)
    return int(text)


def events_range_reply(store: EventLog, branch: Branch, command_id: str, args: dict) -> dict:
    """The reply to `events_range` {from, to, epoch}: the log's events from `from` to `to`
    (default: as many as fit), in order; with `epoch`, only that epoch's (the range is cut
    to it, and `epoch_first` says where it starts in the log: None when the log does not
    hold it). Raises ProtocolError (`bad_args`) on a bad range."""
    first = _seq_arg(args, "from", command_id)
    last = _seq_arg(args, "to", command_id, default=first + RANGE_EVENTS - 1)
    if last < first:
        raise ProtocolError("bad_args", "to must not be below from", command_id)
    asked, bounds, low, high = _epoch_arg(args, command_id), None, first, last
    if asked is not None:
        bounds = store.epoch_bounds(asked)
        if bounds is not None:
            low, high = max(first, bounds[0]), last if bounds[1] is None else min(last, bounds[1])
    events, size, upto = [], 0, None
    found = [] if asked is not None and (bounds is None or high < low) else (
        store.events_range(low, high, RANGE_EVENTS))  # fmt: skip
    for epoch, event in found:
        message = event_message(event, epoch)
        size += len(encode(message))
        if events and size > RANGE_BYTES:
            break
        events.append(message)
        upto = event.seq
    more = upto is not None and upto < min(high, branch.seq)
    result = {
        "epoch": branch.epoch,
        "seq": branch.seq,
        "from": first,
        "to": last,
        "events": events,
        "next": upto + 1 if more else None,
    }
    if asked is not None:
        result["asked_epoch"] = asked
        result["epoch_first"] = None if bounds is None else bounds[0]
    return reply_message(command_id, {"ok": True}, result)
