"""The web role's guards: headers on every answer, a rate limit per address, and the
forms' CSRF word."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict

HEADERS = {
    # Everything the page needs comes from the role itself: no CDN, no inline script.
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "media-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'"
    ),
    "referrer-policy": "no-referrer",  # the token is in the URL: never sent on
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
}


class AddressLimit:
    """A token bucket per client address: `burst` requests at once, `rate` a second after."""

    def __init__(self, rate: float = 5.0, burst: int = 40, addresses: int = 50_000) -> None:
        self.rate, self.burst, self.addresses = rate, burst, addresses
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, address: str, cost: float = 1.0, now: float | None = None) -> bool:
        """Take `cost` from the address's bucket; False when it has not that much."""
        now = time.monotonic() if now is None else now
        tokens, at = self._buckets.get(address, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        allowed = tokens >= cost
        self._buckets[address] = (tokens - cost if allowed else tokens, now)
        self._buckets.move_to_end(address)
        while len(self._buckets) > self.addresses:
            self._buckets.popitem(last=False)
        return allowed


class Csrf:
    """The word a ticket page's forms carry: an HMAC of the token under this process's key,
    so a form posted from anywhere but the page itself is refused."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    def word(self, token: str) -> str:
        """The CSRF word of the page of `token`."""
        return hmac.new(self._key, token.encode(), hashlib.sha256).hexdigest()[:32]

    def check(self, token: str, word: str) -> bool:
        """Whether `word` is the page's (constant time)."""
        return hmac.compare_digest(self.word(token), word or "")

    @staticmethod
    def new_key() -> str:
        """A fresh random value to derive a form's word from (the console's sign-in)."""
        return secrets.token_urlsafe(24)

    @staticmethod
    def same(expected: str, word: str) -> bool:
        """Whether a form's `word` is the session's (constant time)."""
        return hmac.compare_digest(expected.encode(), (word or "").encode())
