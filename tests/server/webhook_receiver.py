"""The reference webhook receiver: what a bank's SMS gateway or WeChat service does with
nowserving's webhook, on loopback. It checks each request's signature the way
docs/webhooks.md tells integrators to (written here on its own, not with nowserving's
code, so that a mistake on both sides cannot agree with itself), refuses a bad one with 401
and keeps every request it got, signed or not."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def signature_ok(secret: bytes, body: bytes, header: str, now: float, tolerance=300) -> bool:
    """The receiver's check: `t=<unix>,v1=<hex>` is HMAC-SHA256 of "<t>." + body, fresh."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        at, given = int(fields["t"]), fields["v1"]
    except (ValueError, KeyError):
        return False
    expected = hmac.new(secret, f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given) and abs(now - at) <= tolerance


@dataclass
class Received:
    """One request as the receiver got it."""

    headers: dict
    body: bytes
    signed: bool  # the signature checked out

    @property
    def json(self) -> dict:
        return json.loads(self.body)


class ReferenceReceiver:
    """An HTTP server on 127.0.0.1 that answers `status` (200 unless told otherwise)."""

    def __init__(self, secret: bytes, clock=time.time) -> None:
        self.secret = secret
        self.status = 200
        self.got: list[Received] = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                header = self.headers.get("Nowserving-Signature", "")
                signed = signature_ok(receiver.secret, body, header, clock())
                with receiver._cond:
                    receiver.got.append(Received(dict(self.headers), body, signed))
                    receiver._cond.notify_all()
                self.send_response(receiver.status if signed else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:  # quiet: the test reads `got`
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def wait_for(self, predicate, timeout: float = 10.0) -> list[Received]:
        """Wait until `predicate(got)` holds; returns what was got (fails the test after
        `timeout` seconds)."""
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self.got), timeout):
                raise AssertionError(f"the receiver got {[r.json for r in self.got]}")
            return list(self.got)

    def kinds(self) -> list[str]:
        """The `type` of every signed request got, in order."""
        with self._cond:
            return [r.json["type"] for r in self.got if r.signed]

    def close(self) -> None:
        """Stop listening: the port refuses connections from now on."""
        self._server.shutdown()
        self._server.server_close()
