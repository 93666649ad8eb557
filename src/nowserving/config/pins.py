"""Staff PINs: their slow salted hashes, and the file of them that only the server reads.

The branch config names the file (`branch.staff_pins`); devices get a copy of the branch
config but never this file, so a device (or a stolen device password) never sees a hash.
A PIN is hashed with scrypt (standard library), its cost and salt kept in the hash, and
compared with `hmac.compare_digest`. `nowserving staff-pin` makes a hash for the file.

    # staff-pins.toml
    [pins]
    1001 = "scrypt$16384$8$1$<salt>$<hash>"
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from pathlib import Path

from nowserving.config.schema import Problems, Table, hint, read_toml

# scrypt's cost: about 0.1 s and 16 MB on a PC. A hash is checked off the server's apply
# loop (server/pins.py), so a slow one never holds up a call.
N, R, P = 2**14, 8, 1
SALT_BYTES = 16
PIN_RE = re.compile(r"^[0-9]{4,8}$")  # what a counter's keypad can enter
_HASH_RE = re.compile(r"^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$")


def hash_pin(pin: str, salt: bytes | None = None, n: int = N) -> str:
    """The hash of `pin` the pins file keeps: `scrypt$N$r$p$salt$digest` (base64)."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=n, r=R, p=P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${n}${R}${P}${b64(salt).decode()}${b64(digest).decode()}"


def pin_matches(pin: str, hashed: str) -> bool:
    """Whether `pin` is the PIN `hashed` was made from (False for anything unreadable)."""
    found = _HASH_RE.match(hashed)
    if found is None:
        return False
    n, r, p = (int(x) for x in found.group(1, 2, 3))
    try:
        salt, expected = base64.b64decode(found[4]), base64.b64decode(found[5])
        got = hashlib.scrypt(
            pin.encode(), salt=salt, n=n, r=r, p=p, dklen=len(expected), maxmem=2**26
        )
    except ValueError:  # bad base64, or a cost scrypt refuses
        return False
    return hmac.compare_digest(got, expected)


def load_pins(path: Path | None, staff: dict) -> dict[str, str]:
    """Staff number -> PIN hash, from the pins file at `path` (None: no file, no PINs).
    Every entry must be a staff member of the branch (`staff`) with a readable hash; a
    ConfigError lists what is wrong (never a hash)."""
    if path is None:
        return {}
    p = Problems()
    root = Table(read_toml(path), "", p, ("pins",))
    pins = root.get("pins", dict, {})
    for sid, hashed in pins.items():
        if sid not in staff:
            p.add(f"pins.{sid}", f"no staff {sid!r} in the branch's [[staff]]{hint(sid, staff)}")
        elif not isinstance(hashed, str) or not _HASH_RE.match(hashed):
            p.add(f"pins.{sid}", "is not a PIN hash: make one with `nowserving staff-pin`")
    p.raise_if_any(str(path))
    return dict(pins)
