"""The console's live page: how long from a counter's call until the board pushed to a
signed-in browser shows it, through the real server, Mosquitto and web role.

    .venv/bin/python bench/console_live.py [--n 200]

A client reads `/console/pudong/events` (Server-Sent Events) as a browser does; for each
ticket the time from sending `call_next` to the event whose board shows the ticket at
counter 1 is measured, one call at a time (the server publishes the summary, the web role
is woken and renders the board).
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import queue
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import uvicorn  # noqa: E402
from _common import command_line, describe_machine, load_branch_config, pct  # noqa: E402

from nowserving.adapters.mqtt import Broker  # noqa: E402
from nowserving.adapters.store import EventLog  # noqa: E402
from nowserving.client import BranchClient  # noqa: E402
from nowserving.config import EXAMPLE, load_config  # noqa: E402
from nowserving.devtools.broker import LocalMosquitto, free_port  # noqa: E402
from nowserving.server.app import BranchServer  # noqa: E402
from nowserving.web.accounts import Account, Accounts, hash_password, write_accounts  # noqa: E402
from nowserving.web.app import make_app  # noqa: E402
from nowserving.web.console import Console  # noqa: E402
from nowserving.web.feed import Feeds  # noqa: E402
from nowserving.web.sessions import AuditLog  # noqa: E402

PASSWORD = "bench password 1"


def signed_in(base: str) -> urllib.request.OpenerDirector:
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    page = opener.open(f"{base}/console/?lang=en").read().decode()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    form = {"csrf": csrf, "lang": "en", "account": "anna", "password": PASSWORD}
    opener.open(f"{base}/console/sign-in", urllib.parse.urlencode(form).encode()).read()
    return opener


def read_events(opener, url: str, boards: queue.Queue) -> None:
    with opener.open(url, timeout=60) as stream:
        for raw in stream:
            line = raw.decode()
            if line.startswith("data: "):
                boards.put((time.perf_counter(), json.loads(line[6:])["html"]))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    print(f"# {command_line()}\n# {describe_machine()}")
    with tempfile.TemporaryDirectory() as tmp, LocalMosquitto(Path(tmp) / "broker") as mosq:
        tmp = Path(tmp)
        shutil.copy(EXAMPLE.parent / "staff-pins.toml", tmp / "staff-pins.toml")
        config = load_config(load_branch_config(tmp))
        broker = Broker("127.0.0.1", mosq.port)
        users = tmp / "users.json"
        write_accounts(users, {"anna": Account("anna", "manager", ("pudong",),
                                               hash_password(PASSWORD))})  # fmt: skip
        feeds = Feeds([config], broker, "web-1")
        console = Console(feeds, Accounts(users), AuditLog(tmp / "audit.log", time.time))
        port = free_port()
        app = make_app(feeds, console=console)
        uv = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
        )
        threading.Thread(target=uv.run, daemon=True).start()
        base = f"http://127.0.0.1:{port}"
        with (
            BranchServer(config, EventLog(tmp / "events.sqlite"), broker) as server,
            BranchClient(broker, "pudong", "kiosk-1") as kiosk,
            BranchClient(broker, "pudong", "counter-1") as counter,
        ):
            server.wait_serving(10)
            while not uv.started:
                time.sleep(0.05)
            feeds.branches["pudong"].client.wait_state(timeout=10)
            boards: queue.Queue = queue.Queue()
            opener = signed_in(base)
            url = f"{base}/console/pudong/events?lang=en"
            threading.Thread(target=read_events, args=(opener, url, boards), daemon=True).start()
            boards.get(timeout=10)
            times = []
            for _ in range(args.n):
                number = kiosk.request("issue_ticket", {"service": "cash"}).result["ticket"][
                    "number"
                ]
                sent = time.perf_counter()
                assert counter.request("call_next").ok
                while True:
                    at, html = boards.get(timeout=10)
                    if f"{number} for" in html:
                        times.append((at - sent) * 1000)
                        break
                assert counter.request("finish").ok
                time.sleep(0.15)  # a counter's pace: under the server's per-device budget
            uv.should_exit = True
    print(
        f"call -> board pushed, {len(times)} calls: p50 {statistics.median(times):.1f} ms, "
        f"p90 {pct(times, 90):.1f} ms, p99 {pct(times, 99):.1f} ms, max {max(times):.1f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
