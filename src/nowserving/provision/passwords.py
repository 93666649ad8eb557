"""Broker passwords: random secrets, and Mosquitto's password file in its own hash format.

Mosquitto 2 reads `user:$7$<iterations>$<salt>$<hash>` lines: PBKDF2-HMAC-SHA512 with a
12-byte salt, base64-encoded, exactly what `mosquitto_passwd` writes. Making them here
needs no `mosquitto_passwd` on the installer's machine; the tests check that a real
Mosquitto accepts them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# Mosquitto's own default. The passwords are 128-bit random words, so more iterations
# would add nothing against guessing; they would only slow every device's login.
ITERATIONS = 101
SALT_BYTES = 12


def new_password() -> str:
    """A random password (128 bits, URL-safe characters)."""
    return secrets.token_urlsafe(16)


def mosquitto_hash(password: str, salt: bytes | None = None) -> str:
    """The `$7$...` hash Mosquitto 2 checks `password` against."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS, 64)
    b64 = base64.b64encode
    return f"$7${ITERATIONS}${b64(salt).decode()}${b64(digest).decode()}"


def matches(password: str, hashed: str) -> bool:
    """Whether `hashed` (a `$7$` hash) is the hash of `password`."""
    try:
        _, kind, iterations, salt, digest = hashed.split("$")
        if kind != "7":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.pbkdf2_hmac(
            "sha512", password.encode(), base64.b64decode(salt), int(iterations), len(expected)
        )
    except ValueError:  # not five fields, bad base64 or a bad number: not our hash
        return False
    return hmac.compare_digest(got, expected)


def read_password_file(text: str) -> dict[str, str]:
    """user -> hash, from a Mosquitto password file's text."""
    users = {}
    for line in text.splitlines():
        user, sep, hashed = line.strip().partition(":")
        if sep and user and not user.startswith("#"):
            users[user] = hashed
    return users


def password_file(passwords: dict[str, str], old: dict[str, str] | None = None) -> str:
    """The password file for user -> password; a user's hash in `old` is kept when it
    still matches, so that re-running changes only what changed."""
    old = old or {}
    lines = []
    for user, password in sorted(passwords.items()):
        kept = old.get(user)
        if not (kept and matches(password, kept)):
            kept = mosquitto_hash(password)
        lines.append(f"{user}:{kept}")
    return "\n".join(lines) + "\n"
