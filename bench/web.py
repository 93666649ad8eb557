"""The phone page's figures: a call on the server to the called state painted in a real
browser, the page's weight on a first visit, its first paint on a throttled slow-4G
profile, and many Server-Sent-Events clients on one web role.

    .venv/bin/python bench/web.py [--calls 30] [--clients 500] [--sse-calls 10]
                                  [--skip-browser] [--skip-sse]

The server and the web role (`python -m nowserving web`) run as processes of their own on
a private Mosquitto; the kiosk and counter are device clients in this process.

- call → painted: Debian's chromium (Playwright) at a 390×844 phone viewport holds a ticket's
  page, its event stream open. Before each call the page is given a MutationObserver on the
  call section's `hidden` attribute; when it is shown, the observer asks for the next
  animation frame and stamps `performance.timeOrigin + performance.now()` in it (the frame
  that paints the called state). Latency: from `time.time()` just before the counter's
  `call_next` is published to that stamp (same machine, same wall clock).
- page weight: every request chromium makes on a first visit with 5 ahead and no tap (page,
  style, script, the favicon's 404; the sound comes on the first tap or from 3 ahead), each
  fetched again with and without `Accept-Encoding: gzip` and its body counted. The bench's
  contexts bypass the page's CSP (Playwright's waits evaluate script, which it forbids).
- slow 4G: chromium's network throttling over CDP (`Network.emulateNetworkConditions`,
  DevTools' "Slow 4G": 562.5 ms latency, 1.44 Mbit/s down, 675 kbit/s up), a fresh
  context each time (no cache); the figure is the page's `first-contentful-paint` entry.
- SSE clients: plain asyncio connections, each from its own loopback address (127.x.y.z,
  as phones have their own; the role allows 8 streams an address), following --tickets
  tickets (500, spread over the branch's five services; clients share them in turn: the
  server slows down issuing past a few thousand waiting in one branch, and a head office's
  5,000 phones are spread over many branches anyway; each stream is its own work in the
  web role whether or not it shares its ticket). Counter 1 (cash) calls; latency is from
  just before `call_next` is published to each cash client's next `data:` event, read in
  this one process (so it includes this process reading thousands of sockets in turn).
  Memory: the web role's RSS before the clients connect and with them connected, over N.
  CPU: the web role's user+system seconds over the calls, over the wall time; and over 15 s
  with the streams open and nothing changing (each stream's keepalive comes once in that time).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import command_line, cpu_seconds, describe_machine, load_branch_config, pct  # noqa: E402
from server_throughput import start_server, wait_online  # noqa: E402

from nowserving.adapters.mqtt import Broker  # noqa: E402
from nowserving.client import BranchClient  # noqa: E402
from nowserving.config import EXAMPLE  # noqa: E402
from nowserving.devtools.broker import LocalMosquitto, free_port  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}
IDLE_S = 15.0  # one keepalive period of every stream
FETCHER = ("127.0.0.254", 0)  # this process's own requests
SERVICES = ("cash", "accounts", "loans", "wealth", "business")
SLOW_4G = {"offline": False, "latency": 562.5, "downloadThroughput": 1_440_000 / 8,
           "uploadThroughput": 675_000 / 8}  # fmt: skip
MARK_CALL = """() => new Promise(resolve => {
  const call = document.getElementById("call");
  window.__called = null;
  new MutationObserver((_, obs) => {
    if (!call.hidden) { obs.disconnect();
      requestAnimationFrame(() => { window.__called = performance.timeOrigin + performance.now(); });
    }
  }).observe(call, {attributes: true, attributeFilter: ["hidden"]});
  resolve(true);
})"""  # noqa: E501


def start_web(config: Path, device: Path, port: int, log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "nowserving", "web", "--config", str(config),
             "--device", str(device), "--listen", f"127.0.0.1:{port}"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def web_device(workdir: Path, port: int) -> Path:
    text = (EXAMPLE.parent / "web-1.toml").read_text(encoding="utf-8")
    text = text.replace('host = "192.168.10.2"', f'host = "127.0.0.1"\nport = {port}')
    path = workdir / "web-1.toml"
    path.write_text(text, encoding="utf-8")
    return path


def wait_http(base: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/static/ticket.css", timeout=2).read()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the web role did not answer")


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def issue_many(kiosk: BranchClient, tokens: list[str], services) -> list[dict]:
    """Issue a ticket per token (a window of requests in flight); the tickets, in order."""
    out: list[dict] = []
    window = 50
    for start in range(0, len(tokens), window):
        futures = [
            kiosk.send("issue_ticket", {"service": services[(start + i) % len(services)],
                                        "language": "en", "token": token}, deadline_s=120)
            for i, token in enumerate(tokens[start : start + window])
        ]  # fmt: skip
        for future in futures:
            reply = future.result(130)
            if not reply.ok:
                raise SystemExit(f"issue_ticket refused: {reply}")
            out.append(reply.result["ticket"])
    return out


def fetch(base: str, path: str, encoding: str = "identity") -> tuple[int, bytes, str]:
    """GET from another loopback address than the browser's (127.0.0.1): the web role's
    per-address limits then count the browser's requests alone."""
    host, port = base.rsplit("/", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10, source_address=FETCHER)
    try:
        conn.request("GET", path, headers={"Accept-Encoding": encoding})
        r = conn.getresponse()
        return r.status, r.read(), r.getheader("content-encoding") or "-"
    finally:
        conn.close()


def wait_record(base: str, token: str, timeout: float = 10) -> dict:
    """The page's data once the web role has the ticket's record (and it is in its line)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status, body, _ = fetch(base, f"/pudong/t/{token}/view.json")
            view = json.loads(body) if status == 200 else {"status": "waiting", "ahead_text": ""}
            if view["status"] != "waiting" or view["ahead_text"]:
                return view
        except OSError:
            pass
        time.sleep(0.2)  # a 404 costs its address 5 requests' worth
    raise SystemExit("the web role did not get the ticket")


# ----- (a) call → painted, (b) page weight, slow 4G ----------------------------------------


def browser_figures(base: str, kiosk: BranchClient, counter: BranchClient, calls: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--autoplay-policy=no-user-gesture-required"],
        )  # fmt: skip
        try:
            call_to_paint(browser, base, kiosk, counter, calls)
            page_weight(browser, base, kiosk)
            slow_4g(browser, base, kiosk)
        finally:
            browser.close()


def call_to_paint(browser, base, kiosk, counter, calls: int) -> None:
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=1, is_mobile=True, bypass_csp=True
    )
    page = context.new_page()
    latencies = []
    for i in range(calls):
        token = f"paint-{i:04d}-0123456789abcdef"
        issue_many(kiosk, [token], ["cash"])
        wait_record(base, token)
        with page.expect_response(lambda r: r.url.split("?")[0].endswith("/events")):
            page.goto(f"{base}/pudong/t/{token}")
        page.wait_for_timeout(300)  # the stream's first event has been handled
        page.evaluate(MARK_CALL)
        t0 = time.time()
        reply = counter.request("call_next")
        if not reply.ok:
            raise SystemExit(f"call_next refused: {reply}")
        page.wait_for_function("window.__called !== null", timeout=10_000)
        latencies.append(page.evaluate("window.__called") - t0 * 1000)
        assert counter.request("finish").ok
    context.close()
    print(f"call -> called state painted (chromium, {PHONE['width']}x{PHONE['height']}), "
          f"{calls} calls: p50 {statistics.median(latencies):.0f} ms, "
          f"p99 {pct(latencies, 99):.0f} ms, max {max(latencies):.0f} ms")  # fmt: skip


def page_weight(browser, base, kiosk) -> None:
    # A customer scans the QR code with people ahead (the page fetches the call's sound only
    # on the first tap or from 3 ahead): five ahead here.
    ahead = [f"weight-ahead-{i}-0123456789abcdef" for i in range(5)]
    token = "weight-0000-0123456789abcdef"
    issue_many(kiosk, [*ahead, token], ["cash"])
    wait_record(base, token)
    context = browser.new_context(viewport=PHONE, is_mobile=True, bypass_csp=True)
    page = context.new_page()
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    page.goto(f"{base}/pudong/t/{token}")
    page.wait_for_timeout(1500)
    context.close()
    plain = gz = 0
    rows = []
    for url in dict.fromkeys(urls):
        if url.split("?")[0].endswith("/events"):
            continue  # the live stream, not the page's weight
        sizes = []
        for enc in ("identity", "gzip"):
            status, body, used = fetch(base, url.replace(base, ""), enc)
            sizes.append((len(body), used if status == 200 else str(status)))
        plain += sizes[0][0]
        gz += sizes[1][0]
        name = re.sub(r"/pudong/t/[^/?]+", "/<branch>/t/<token>", url.replace(base, ""))
        rows.append(f"  {name}: {sizes[0][0]:,} B, gzip {sizes[1][0]:,} B ({sizes[1][1]})")
    print(f"first visit (5 ahead, no tap), every request but the event stream: {plain:,} B "
          f"uncompressed, {gz:,} B as served with gzip")  # fmt: skip
    print("\n".join(rows))


def slow_4g(browser, base, kiosk, runs: int = 5) -> None:
    token = "slow4g-0000-0123456789abcdef"
    issue_many(kiosk, [token], ["cash"])
    wait_record(base, token)
    fcp, load = [], []
    for _ in range(runs):
        context = browser.new_context(viewport=PHONE, is_mobile=True, bypass_csp=True)
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", SLOW_4G)
        page.goto(f"{base}/pudong/t/{token}", wait_until="load")
        page.wait_for_function("performance.getEntriesByName('first-contentful-paint').length > 0")
        fcp.append(page.evaluate(
            "performance.getEntriesByName('first-contentful-paint')[0].startTime"
        ))  # fmt: skip
        load.append(page.evaluate(
            "performance.getEntriesByType('navigation')[0].loadEventEnd"
        ))  # fmt: skip
        context.close()
    print(f"slow 4G (CDP: 562.5 ms, 1.44/0.675 Mbit/s), {runs} cold visits: first contentful "
          f"paint median {statistics.median(fcp):.0f} ms (max {max(fcp):.0f}); load event "
          f"median {statistics.median(load):.0f} ms")  # fmt: skip


# ----- (c) many SSE clients -----------------------------------------------------------------


class SseClient:
    def __init__(self, token: str, service: str, address: str) -> None:
        self.token, self.service, self.address = token, service, address
        self.events: list[float] = []  # monotonic time of each `data:` event
        self.moves: list[float] = []  # ... of each that moved the ticket (place or status)
        self._place: object = None
        self.error: str | None = None

    async def run(self, port: int, connected: asyncio.Event | None = None) -> None:
        try:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, local_addr=(self.address, 0)
            )
            writer.write(f"GET /pudong/t/{self.token}/events HTTP/1.1\r\nHost: q\r\n"
                         "Accept: text/event-stream\r\n\r\n".encode())  # fmt: skip
            head = await reader.readuntil(b"\r\n\r\n")
            if b" 200 " not in head.split(b"\r\n", 1)[0]:
                self.error = head.split(b"\r\n", 1)[0].decode()
                return
            while True:
                line = await reader.readline()
                if not line:
                    self.error = "closed"
                    return
                if b"data:" in line:  # chunked: the size lines come and go between
                    self._data(line)
        except (OSError, asyncio.IncompleteReadError) as err:
            self.error = repr(err)

    def _data(self, line: bytes) -> None:
        now = time.monotonic()
        self.events.append(now)
        view = json.loads(line.split(b"data:", 1)[1])
        place = (view["status"], view["ahead"], view.get("recalls"))
        if place != self._place:
            self._place = place
            self.moves.append(now)


def address(i: int) -> str:
    i += 2
    return f"127.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


async def sse_figures(base, port, web_pid, kiosk, counter, n: int, n_tickets: int, calls: int):
    loop = asyncio.get_running_loop()
    tokens = [f"sse-{i:06d}-0123456789abcdef" for i in range(n_tickets)]
    t = time.monotonic()
    tickets = await loop.run_in_executor(None, issue_many, kiosk, tokens, SERVICES)
    print(f"issued {n_tickets} tickets in {time.monotonic() - t:.1f} s")
    await loop.run_in_executor(None, wait_record, base, tokens[-1], 300)
    print(
        f"the web role had the last ticket {time.monotonic() - t:.1f} s after the first was issued"
    )
    await asyncio.sleep(1)
    rss0 = rss_kb(web_pid)
    clients = [SseClient(tokens[i % n_tickets], tickets[i % n_tickets]["service"], address(i))
               for i in range(n)]  # fmt: skip
    tasks = []
    t = time.monotonic()
    for i, client in enumerate(clients):
        tasks.append(asyncio.create_task(client.run(port)))
        if i % 100 == 99:
            await asyncio.sleep(0.05)
    while sum(1 for c in clients if c.events or c.error) < n and time.monotonic() - t < 120:
        await asyncio.sleep(0.1)
    errors = [c.error for c in clients if c.error]
    print(f"{n} SSE clients connected and holding their first event in "
          f"{time.monotonic() - t:.1f} s; {len(errors)} failed {errors[:3]}")  # fmt: skip
    await asyncio.sleep(2)
    rss1 = rss_kb(web_pid)
    print(f"web role RSS: {rss0 / 1024:.0f} MB before, {rss1 / 1024:.0f} MB with {n} streams: "
          f"{(rss1 - rss0) / n:.1f} KB per connection")  # fmt: skip
    idle0, t = cpu_seconds(web_pid), time.monotonic()
    await asyncio.sleep(IDLE_S)
    idle = (cpu_seconds(web_pid) - idle0) / (time.monotonic() - t)
    print(f"web role CPU with {n} streams open and no change (keepalives only): "
          f"{idle * 1000:.0f} ms a second ({100 * idle:.0f} % of one core)")  # fmt: skip
    cash = [c for c in clients if c.service == "cash" and not c.error]
    latencies: list[float] = []
    late = 0
    cpu0, wall0 = cpu_seconds(web_pid), time.monotonic()
    busy = []
    aged = 0
    for _ in range(calls):
        before = {id(c): (len(c.events), len(c.moves)) for c in cash}
        c0 = cpu_seconds(web_pid)
        t0 = time.monotonic()
        reply = await loop.run_in_executor(None, counter.request, "call_next")
        assert reply.ok, reply
        deadline = t0 + 3  # pages behind the line's head do not move
        while time.monotonic() < deadline and any(len(c.moves) == before[id(c)][1] for c in cash):
            await asyncio.sleep(0.01)
        for c in cash:
            if len(c.moves) > before[id(c)][1]:
                latencies.append((c.moves[before[id(c)][1]] - t0) * 1000)
            else:
                late += 1
                aged += len(c.events) > before[id(c)][0]
        await asyncio.sleep(0.5)
        busy.append((cpu_seconds(web_pid) - c0, time.monotonic() - t0))
        assert (await loop.run_in_executor(None, counter.request, "finish")).ok
        await asyncio.sleep(0.5)
    cpu = cpu_seconds(web_pid) - cpu0
    wall = time.monotonic() - wall0
    print(f"call -> data event at the cash clients whose ticket moved ({len(latencies)} "
          f"events; {len(cash)} cash clients ({n} streams open), "
          f"{calls} calls: p50 {statistics.median(latencies):.0f} ms, "
          f"p99 {pct(latencies, 99):.0f} ms, max {max(latencies):.0f} ms; "
          f"{late} of {len(cash) * calls} pages did not move within 3 s (behind the line's "
          f"50-ticket head; {aged} of them got an event of their range aging)")  # fmt: skip
    per_call = statistics.median(c for c, _ in busy)
    beyond = statistics.median(c - idle * w for c, w in busy)
    print(f"web role CPU over the calls: {cpu:.2f} s in {wall:.1f} s ({100 * cpu / wall:.0f} % "
          f"of one core); per call (call_next, 0.5 s after the last client's event or 3 s): "
          f"median {per_call * 1000:.0f} ms, {beyond * 1000:.0f} ms of it beyond the "
          "keepalives' rate")  # fmt: skip
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--sse-calls", type=int, default=10)
    parser.add_argument(
        "--tickets",
        type=int,
        default=500,
        help="tickets the SSE clients follow (clients share them in turn)",
    )
    parser.add_argument("--skip-browser", action="store_true")
    parser.add_argument("--skip-sse", action="store_true")
    args = parser.parse_args()
    print(command_line())
    print(describe_machine())
    with tempfile.TemporaryDirectory() as tmp, LocalMosquitto(Path(tmp) / "broker") as mosq:
        work = Path(tmp)
        config = load_branch_config(work)
        broker = Broker("127.0.0.1", mosq.port)
        server = start_server(config, mosq.port, work / "events.sqlite", work / "server.log")
        web_port = free_port()
        web = start_web(config, web_device(work, mosq.port), web_port, work / "web.log")
        base = f"http://127.0.0.1:{web_port}"
        kiosk = BranchClient(broker, "pudong", "kiosk-1")
        counter = BranchClient(broker, "pudong", "counter-1")
        try:
            wait_online(broker, server.pid)
            wait_http(base)
            kiosk.start()
            counter.start()
            if not args.skip_browser:
                browser_figures(base, kiosk, counter, args.calls)
            if not args.skip_sse:
                tickets = min(args.tickets, args.clients)
                asyncio.run(sse_figures(base, web_port, web.pid, kiosk, counter, args.clients,
                                        tickets, args.sse_calls))  # fmt: skip
        finally:
            kiosk.close()
            counter.close()
            for proc in (web, server):
                proc.terminate()
                proc.wait(10)
            for name in ("server", "web"):
                log = (work / f"{name}.log").read_text(errors="replace").strip()
                if "Traceback" in log or "ERROR" in log:
                    print(f"{name} log:", log[-3000:], sep="\n")


if __name__ == "__main__":
    threading.excepthook = lambda a: print("thread error:", a.exc_value, file=sys.stderr)
    main()
