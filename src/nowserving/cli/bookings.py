"""`nowserving bookings import`: appointments from a booking system's file (CSV or ICS),
sent to the branch as `book` commands (docs/appointments.md, "Importing bookings").

Each booking is sent with the file's own booking id as its `ref`, which the server keeps
with the booking (in its log), so importing the same file again books nothing twice: a
known ref is answered with the booking it made and the same code (`booking_known`), or
refused (`booking_changed`) when the row has changed since. Every bad row is reported with
its line and why; the others are booked.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import re
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nowserving.cli.options import branch_option, broker_options, readable_file
from nowserving.protocol.webhook import PHONE_RE

CSV_COLUMNS = ("id", "service", "time")  # required; `duration`, `priority`, `phone` optional
OPTIONAL = ("duration", "priority", "phone")
PACE_S = 1 / 15  # below the server's 20 commands/s for one device (server/ratelimit.py)
FREE_BURST = 100  # ... and well inside its burst of 200: a small file goes at once
RATE_RETRIES = 5


@dataclass(frozen=True)
class Row:
    """One booking of the file: where it is (`line`), its id there, the `book` args."""

    line: int
    ref: str
    args: dict


@dataclass(frozen=True)
class BadRow:
    """A line of the file that is no booking, and why."""

    line: int
    why: str


MAX_REF = 200  # the protocol's longest string argument


def command_id(ref: str, run: str) -> str:
    """The `book` command's id for the file's booking `ref` in one import `run`: a retry
    within the run is the same command; a later import is recognised by its ref."""
    text = f"{run}\x00{ref}".encode("utf-8", "surrogatepass")
    return "import:" + hashlib.sha256(text).hexdigest()[:40]


def wire_ref(ref: str) -> str:
    """The `ref` sent for the file's booking id: itself, or its sha256 when too long."""
    if len(ref) <= MAX_REF:
        return ref
    return "sha256:" + hashlib.sha256(ref.encode("utf-8", "surrogatepass")).hexdigest()


def read_bookings(path: Path, timezone: str) -> list[Row | BadRow]:
    """The bookings of a .csv or .ics file, and its bad rows (`timezone`: the branch's,
    for ICS times given in UTC or another zone)."""
    try:
        content = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        return [BadRow(0, f"not UTF-8 text (byte {err.start}): save the file as UTF-8")]
    if path.suffix.lower() == ".ics":
        return read_ics(content, timezone)
    return read_csv(content)


def read_csv(content: str) -> list[Row | BadRow]:
    """CSV with a header row naming the columns `id`, `service`, `time` (local branch time
    "YYYY-MM-DD HH:MM"), optionally `duration`, `priority` and `phone` (the customer's
    mobile, for the branch's webhook only); other columns are ignored."""
    reader = csv.DictReader(io.StringIO(content))
    header = [h.strip().lower() for h in reader.fieldnames or ()]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        return [BadRow(1, f"the header must name the columns {', '.join(missing)}")]
    reader.fieldnames = header
    found: list[Row | BadRow] = []
    seen: dict[str, int] = {}
    for record in reader:
        line = reader.line_num
        values = {k: (v or "").strip() for k, v in record.items() if k in (*CSV_COLUMNS, *OPTIONAL)}
        found.append(_row(line, values, seen))
    return found


def _row(line: int, values: dict, seen: dict[str, int]) -> Row | BadRow:
    """A row's checks that need no server (the server checks the rest when it books)."""
    empty = [c for c in CSV_COLUMNS if not values.get(c)]
    if empty:
        return BadRow(line, f"no {', '.join(empty)}")
    ref = values["id"]
    if ref in seen:
        return BadRow(line, f"id {ref!r} again (first on line {seen[ref]})")
    seen[ref] = line
    try:
        datetime.fromisoformat(values["time"])
    except ValueError:
        return BadRow(line, f"time {values['time']!r} is not 'YYYY-MM-DD HH:MM'")
    args = {k: values[k] for k in ("service", "time", *OPTIONAL) if values.get(k)}
    if "phone" in args:
        args["phone"] = re.sub(r"[\s()-]", "", args["phone"])  # "139 1234-5678" as written
        if not PHONE_RE.match(args["phone"]):  # said without repeating it
            return BadRow(line, "phone is no mobile number (5-15 digits, a leading + at most)")
    return Row(line, ref, args)


def read_ics(content: str, timezone: str) -> list[Row | BadRow]:
    """iCalendar: each VEVENT with `UID` (the id), `DTSTART` (UTC "…Z", with `TZID`, or
    floating = branch time), the service in `X-NOWSERVING-SERVICE` or else the first of
    `CATEGORIES`, optionally `X-NOWSERVING-DURATION` and `X-NOWSERVING-PRIORITY`. An event
    with `STATUS:CANCELLED` is skipped (take a booking back with `cancel_booking`)."""
    found: list[Row | BadRow] = []
    seen: dict[str, int] = {}
    event: dict[str, tuple[dict, str]] | None = None
    start = 0
    for line, name, params, value in _ics_lines(content):
        if name == "BEGIN" and value.upper() == "VEVENT":
            event, start = {}, line
        elif name == "END" and value.upper() == "VEVENT" and event is not None:
            found += _ics_event(start, event, timezone, seen)
            event = None
        elif event is not None:
            event.setdefault(name, (params, value))
    return found


def _ics_lines(content: str):
    """(line, NAME, {PARAM: value}, value) of each unfolded content line."""
    unfolded: list[tuple[int, str]] = []
    for number, raw in enumerate(content.splitlines(), 1):
        if raw[:1] in (" ", "\t") and unfolded:
            unfolded[-1] = (unfolded[-1][0], unfolded[-1][1] + raw[1:])
        elif raw.strip():
            unfolded.append((number, raw))
    for number, text in unfolded:
        head, _, value = text.partition(":")
        name, *params = head.split(";")
        options = dict(p.partition("=")[::2] for p in params)
        yield number, name.strip().upper(), {k.upper(): v for k, v in options.items()}, value


def _ics_event(line: int, event: dict, timezone: str, seen: dict[str, int]) -> list[Row | BadRow]:
    def value(name: str) -> str:
        return _unescape(event.get(name, ({}, ""))[1]).strip()

    if value("STATUS").upper() == "CANCELLED":
        return []
    service = value("X-NOWSERVING-SERVICE") or value("CATEGORIES").split(",")[0].strip()
    start = event.get("DTSTART")
    when = _ics_time(*start, timezone) if start else None
    if start and when is None:
        return [BadRow(line, f"DTSTART {start[1]!r} is not a date and time")]
    values = {
        "id": value("UID"),
        "service": service,
        "time": when or "",
        "duration": value("X-NOWSERVING-DURATION"),
        "priority": value("X-NOWSERVING-PRIORITY"),
        "phone": value("X-NOWSERVING-PHONE"),
    }
    return [_row(line, values, seen)]


def _ics_time(params: dict, text: str, timezone: str) -> str | None:
    """DTSTART as the branch's local "YYYY-MM-DD HH:MM"."""
    match = re.fullmatch(r"(\d{8})T(\d{4})(\d{2})?(Z?)", text.strip())
    if match is None:
        return None
    day, hm, _, utc = match.groups()
    try:
        naive = datetime.strptime(day + hm, "%Y%m%d%H%M")
        local = ZoneInfo(timezone)
        if utc:
            return naive.replace(tzinfo=UTC).astimezone(local).strftime("%Y-%m-%d %H:%M")
        if "TZID" in params:
            zone = ZoneInfo(params["TZID"].strip('"'))
            return naive.replace(tzinfo=zone).astimezone(local).strftime("%Y-%m-%d %H:%M")
    except (ValueError, ZoneInfoNotFoundError):
        return None
    return naive.strftime("%Y-%m-%d %H:%M")


def _unescape(text: str) -> str:
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), text)


# ----- the command ---------------------------------------------------------------------


def add_bookings(commands) -> None:
    """`nowserving bookings import`."""
    parser = commands.add(
        "bookings", "appointments from a booking system's file (CSV or ICS)", _run
    )
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    imports = sub.add_parser("import", description="book every appointment of FILE")
    imports.add_argument("file", type=readable_file, metavar="FILE.csv|FILE.ics")
    branch_option(imports)
    broker_options(imports)
    imports.add_argument(
        "--device", help="the staff or web device to book as (default: the first staff device)"
    )
    imports.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to wait for each answer"
    )


def _run(args: argparse.Namespace) -> int:
    from nowserving.adapters.mqtt import Broker
    from nowserving.client import BranchClient
    from nowserving.config import load_config
    from nowserving.errors import ConfigError

    config = load_config(args.config)
    device = args.device or next(
        (d.id for d in config.devices.values() if d.role in ("staff", "web")), None
    )
    if device is None or config.devices[device].role not in ("staff", "web"):
        raise ConfigError(
            [f"--device: {device!r} is no staff or web device of the branch config"], "bookings"
        )
    rows = read_bookings(args.file, config.rules.timezone)
    host, _, port = args.broker.rpartition(":")
    password = args.password_file.read_text().strip() if args.password_file else None
    broker = Broker(host, int(port), username=args.username, password=password,
                    mqtt_version=args.mqtt_version, tls_ca=args.tls_ca)  # fmt: skip
    client = BranchClient(broker, config.rules.branch_id, device, presence=False,
                          watch_state=False)  # fmt: skip
    try:
        client.start(wait_s=args.timeout)
        booked, bad = book_all(client, rows, args.timeout)
    except TimeoutError as err:
        print(f"nowserving bookings: {err}", file=sys.stderr)
        return 1
    finally:
        client.close()
    print(f"{args.file}: {booked} booked (none twice), {bad} not booked", file=sys.stderr)
    return 1 if bad else 0


def book_all(client, rows: list[Row | BadRow], timeout: float) -> tuple[int, int]:
    """Send each row's `book` (paced below the server's limit); print a CSV of the
    bookings (id, booking, code) on stdout and each bad row on stderr. Returns (booked,
    bad). A booking imported before is answered with that booking and its code (by its
    ref, whatever the server remembers of command ids)."""
    out = csv.writer(sys.stdout)
    out.writerow(["id", "booking", "code"])
    booked = bad = sent = 0
    run = uuid.uuid4().hex
    for row in rows:
        if isinstance(row, BadRow):
            bad += 1
            print(f"line {row.line}: {row.why}", file=sys.stderr)
            continue
        if sent >= FREE_BURST:
            time.sleep(PACE_S)
        sent += 1
        reply = _book(client, row, run, timeout)
        if reply.ok:
            booked += 1
            out.writerow([row.ref, reply.result.get("booking", ""), reply.result.get("code", "")])
            continue
        bad += 1
        why = reply.message or reply.code
        if reply.code == "booking_changed":
            why = "changed since it was imported: cancel the booking, then import it anew"
        print(f"line {row.line}: {row.ref}: {reply.code}: {why}", file=sys.stderr)
    return booked, bad


def _book(client, row: Row, run: str, timeout: float):
    args = {**row.args, "ref": wire_ref(row.ref)}
    for _ in range(RATE_RETRIES):
        reply = client.request("book", args, command_id=command_id(row.ref, run), timeout=timeout)
        if reply.code != "rate_limited":
            return reply
        time.sleep(1.0)  # the same id again: applied once whatever happened
    return reply
