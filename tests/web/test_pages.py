"""The ticket page over HTTP, against the real server, broker and web role."""

from __future__ import annotations

import http.client
import json
import re
import urllib.parse

from nowserving.protocol.messages import LINE_HEAD
from tests.web.conftest import TOKEN, get, post, wait_record


def issue(connect, token=TOKEN, service="cash"):
    kiosk = connect("kiosk-1")
    reply = kiosk.request("issue_ticket", {"service": service, "language": "en", "token": token})
    assert reply.ok, reply
    return reply


def in_line(web, reply, service="cash"):
    """Wait until the web role has the line with the ticket of `reply` in it."""
    ticket = reply.result["ticket"]["id"]
    web.feeds.branches["pudong"].client.wait_line(
        service, lambda line: any(t.id == ticket for t in line.tickets)
    )


def csrf_of(html: bytes) -> str:
    return re.search(rb'name="csrf" value="([0-9a-f]+)"', html)[1].decode()


def test_the_page_shows_the_ticket_and_a_wrong_token_gets_the_same_404(web, connect):
    issue(connect, "other-token-0123456789")
    in_line(web, issue(connect))
    wait_record(web)
    status, headers, html = get(web.url())
    assert status == 200
    text = html.decode()
    assert "A002" in text and "People ahead of you: 1" in text
    assert "other-token" not in text and "A001" not in text  # nothing of the others but counts
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "no-referrer" and headers["x-frame-options"] == "DENY"
    wrong = get(web.url(TOKEN[:-1] + "x"))
    other_branch = get(web.url(branch="xuhui"))
    assert wrong[0] == other_branch[0] == 404 and wrong[2] == other_branch[2]
    assert get(web.url() + "?lang=zh")[2].decode().count("前面还有 1 人") == 1


def test_the_forms_need_the_pages_csrf_word_and_step_out_and_cancel_reach_the_server(
    web, connect, server
):
    ticket = issue(connect).result["ticket"]["id"]
    wait_record(web)
    html = get(web.url())[2]
    assert post(web.url() + "/step-out", {"csrf": "0" * 32})[0] == 403
    status, headers = post(web.url() + "/step-out", {"csrf": csrf_of(html), "lang": "en"})
    assert status == 303 and "failed" not in headers["location"]
    record = wait_record(web, predicate=lambda r: r.stepped_out_at is not None)
    assert record.back_by is not None
    page = get(web.url())[2].decode()
    assert "Please be back by" in page and "step out" not in page
    assert "Cancel this ticket?" in get(web.url() + "?confirm=cancel")[2].decode()
    status, headers = post(web.url() + "/cancel", {"csrf": csrf_of(html), "lang": "en"})
    assert status == 303 and "failed" not in headers["location"]
    wait_record(web, predicate=lambda r: r.status == "cancelled")
    assert server.branch.tickets[ticket].status == "cancelled"
    assert "Cancelled" in get(web.url())[2].decode()


def test_the_event_stream_brings_the_call(web, connect):
    issue(connect)
    wait_record(web)
    url = urllib.parse.urlsplit(web.url() + "/events")
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    conn.request("GET", url.path)
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("content-type").startswith("text/event-stream")

    def next_view():
        while True:
            line = response.fp.readline().decode()
            if line.startswith("data: {"):
                return json.loads(line[6:])

    assert next_view()["status"] == "waiting"
    assert connect("counter-1").request("call_next").ok
    view = next_view()
    while view["status"] != "called":
        view = next_view()
    assert view["call_text"] == "A001 → Counter 1"
    conn.close()


def test_a_ticket_behind_the_lines_published_head_says_at_least_that_many_ahead(web, connect):
    kiosk = connect("kiosk-1")
    futures = [
        kiosk.send("issue_ticket", {"service": "cash", "language": "en", "token": f"t-{i:020d}"})
        for i in range(LINE_HEAD)
    ]
    assert all(f.result(20).ok for f in futures)
    issue(connect)
    web.feeds.branches["pudong"].client.wait_line(
        "cash", lambda line: line.waiting == LINE_HEAD + 1
    )
    wait_record(web)
    page = get(web.url())[2].decode()
    assert f"At least {LINE_HEAD} people ahead of you" in page
    assert "Likely wait:" in page  # the range given at issue
    assert f"前面至少还有 {LINE_HEAD} 人" in get(web.url() + "?lang=zh")[2].decode()
