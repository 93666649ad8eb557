"""The one schema helper every config file is read with: branch, device and scenario files.

Reading never stops at the first problem. Each problem is recorded with its location
(`services[2].prefix`) and, where it helps, a hint ("did you mean 'cash'?"); when the whole
file has been read they are raised together in one ConfigError, so whoever fixes the file
sees everything that is wrong with it in one go, not one error per attempt.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Collection, Iterator
from datetime import time
from pathlib import Path
from typing import Any

from nowserving.errors import ConfigError

ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
SPAN_RE = re.compile(r"^(\d{2}:\d{2})-(\d{2}:\d{2})$")

_KIND_NAMES = {
    str: "a string",
    int: "a whole number",
    float: "a number",
    bool: "true or false",
    list: "a list",
    dict: "a table",
}


def read_toml(path: str | Path) -> dict:
    """The parsed TOML of `path`, or a ConfigError naming why it could not be read."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError([f"cannot read: {err.strerror}"], str(path)) from err
    except UnicodeDecodeError as err:
        raise ConfigError(["cannot read: not UTF-8 text"], str(path)) from err
    problem = _shape_problem(text)
    if problem:
        raise ConfigError([problem], str(path))
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError([f"not valid TOML: {err}"], str(path)) from err
    except RecursionError:  # deeper than the scan below saw: refused all the same
        raise ConfigError([f"nested deeper than {MAX_TOML_DEPTH} levels"], str(path)) from None


# A branch of 16 services with long names is about 12 KB and 4 levels deep: these refuse a
# file made to exhaust the parser (tomllib recurses per level, and a dotted key of 100,000
# parts took it 31 s) before it is parsed.
MAX_TOML_BYTES = 1024 * 1024
MAX_TOML_DEPTH = 32
# A string, a comment, an opening or closing bracket, a line's end, `=`, or a dot that is
# not between digits (1.5, 2026-11-23T09:00:00.5 and 10.0.0.1 are values, not keys).
_TOML_TOKEN = re.compile(
    r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\''
    r"|#[^\n]*|[\[\]{}=\n]|(?<![0-9])\.|\.(?![0-9])"
)


def _shape_problem(text: str) -> str | None:
    """Why `text` is too large or too deeply nested to parse safely, or None."""
    if len(text) > MAX_TOML_BYTES:
        return f"{len(text)} characters; a config file may have at most {MAX_TOML_BYTES}"
    brackets = dots = 0
    for token in _TOML_TOKEN.findall(text):
        first = token[0]
        if first in "[{":
            brackets += 1
        elif first in "]}":
            brackets = max(0, brackets - 1)
        elif first == ".":
            dots += 1
        elif first in "=\n":
            dots = 0  # a key's dots end at its `=` (or a table header's line)
        if brackets + dots > MAX_TOML_DEPTH:
            return f"nested deeper than {MAX_TOML_DEPTH} levels (tables, arrays, dotted keys)"
    return None


def join(where: str, key: str) -> str:
    """The location of `key` inside the table at `where` ("" is the file itself)."""
    return f"{where}.{key}" if where else key


def hint(word: object, choices: Collection) -> str:
    """' (did you mean ...?)' for the choice closest to `word`, or '' if none is close."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def kind_name(kind: type | tuple[type, ...]) -> str:
    """How a message names a TOML type: int -> 'a whole number'."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if float in kinds:  # an int is a number too; "a whole number or a number" says less
        kinds = tuple(k for k in kinds if k is not int)
    return " or ".join(_KIND_NAMES.get(k, k.__name__) for k in kinds)


def is_kind(value: object, kind: type | tuple[type, ...]) -> bool:
    """Whether `value` is of `kind`; a bool is not a number here, though Python says so."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool):
        return bool in kinds
    return isinstance(value, kinds)


class Problems:
    """Every problem found in one file, each as 'location: what is wrong'."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        """Note a problem at `where`."""
        self.items.append(f"{where}: {message}")

    def raise_if_any(self, source: str) -> None:
        """Raise one ConfigError listing every problem, if there was any."""
        if self.items:
            raise ConfigError(self.items, source)


class Table:
    """One TOML table being read: every read checks its value and records what is wrong.

    A read that fails records the problem and returns the default, so that reading goes
    on and the rest of the file is checked too. `keys`, when given, are the keys the table
    may have; any other is reported with the closest allowed one as a hint.
    """

    def __init__(
        self,
        data: object,
        where: str,
        problems: Problems,
        keys: Collection[str] | None = None,
    ) -> None:
        self.data: dict[str, Any] = data if isinstance(data, dict) else {}
        self.where = where
        self.problems = problems
        if keys is not None:
            for key in self.data:
                if key not in keys:
                    problems.add(self.at(key), f"unknown key{hint(key, keys)}")

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def at(self, key: str) -> str:
        """The location of `key` in this table, for messages."""
        return join(self.where, key)

    def add(self, key: str, message: str) -> None:
        """Record a problem with `key` of this table."""
        self.problems.add(self.at(key), message)

    def need(self, key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
        """A required value of `kind`."""
        return self._read(key, kind, default, required=True)

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
        """An optional value of `kind`; `default` when it is absent or wrong."""
        return self._read(key, kind, default, required=False)

    def _read(self, key: str, kind, default: Any, required: bool) -> Any:
        if key not in self.data:
            if required:
                self.add(key, "is required")
            return default
        value = self.data[key]
        if not is_kind(value, kind):
            self.add(key, f"must be {kind_name(kind)}, not {value!r}")
            return default
        return value

    def number(
        self,
        key: str,
        default: Any = None,
        *,
        whole: bool = False,
        at_least: float | None = None,
        more_than: float | None = None,
        at_most: float | None = None,
        required: bool = False,
    ) -> Any:
        """A number (a whole one if `whole`) within the given bounds."""
        kind = int if whole else (int, float)
        value = self._read(key, kind, default, required)
        if key not in self.data or not is_kind(self.data[key], kind):  # absent or recorded
            return value
        if (
            (at_least is not None and value < at_least)
            or (more_than is not None and value <= more_than)
            or (at_most is not None and value > at_most)
        ):
            self.add(key, f"must be {bounds_text(at_least, more_than, at_most)}")
            return default
        return value

    def choice(
        self,
        key: str,
        choices: Collection[str],
        default: str | None = None,
        *,
        what: str = "value",
        required: bool = False,
    ) -> str | None:
        """One of `choices` (strings), with a hint when it is misspelt."""
        if key not in self.data:
            if required:
                self.add(key, "is required")
            return default
        value = self.data[key]
        listed = ", ".join(str(c) for c in choices)
        if not isinstance(value, str):
            quoted = ", ".join(f'"{c}"' for c in choices)
            self.add(key, f"must be a string, one of {quoted}, not {value!r}")
            return default
        if value not in choices:
            self.add(key, f"unknown {what} {value!r}{hint(value, choices)} (one of {listed})")
            return default
        return value

    def ident(self, key: str, seen: set[str]) -> str | None:
        """A required short lower-case id, unique among those in `seen` (which it joins)."""
        value = self.need(key, str)
        if value is None:
            return None
        if not ID_RE.match(value):
            self.add(key, f'must be a short lower-case id like "cash", not {value!r}')
            return None
        if value in seen:
            self.add(key, f"{value!r} is used twice")
        seen.add(value)
        return value

    def served(self, key: str, services) -> list:
        """A counter's required list of services, each one that exists, none twice."""
        served = self.need(key, list, [])
        if not served and key in self:
            self.add(key, "must list at least one service")
        for j, sid in enumerate(served):
            if not isinstance(sid, str) or sid not in services:
                self.add(f"{key}[{j}]", f"unknown service {sid!r}{hint(sid, services)}")
        return served

    def strings(self, key: str) -> tuple[str, ...]:
        """An optional list of distinct non-empty strings; () when absent."""
        values = self.get(key, list, [])
        result: list[str] = []
        for i, value in enumerate(values):
            where = f"{self.at(key)}[{i}]"
            if not isinstance(value, str) or not value.strip():
                self.problems.add(where, f"must be a non-empty string, not {value!r}")
            elif value in result:
                self.problems.add(where, f"{value!r} is listed twice")
            else:
                result.append(value)
        return tuple(result)

    def clock(self, key: str, default: time | None = None) -> time | None:
        """An optional time of day like "16:30"."""
        if key not in self.data:
            return default
        return clock(self.data[key], self.at(key), self.problems) or default

    def table(self, key: str, keys: Collection[str], *, required: bool = True) -> Table:
        """A sub-table; an empty one (after recording why) when it is absent or no table."""
        value = self._read(key, dict, {}, required)
        return Table(value, self.at(key), self.problems, keys)

    def optional_table(self, key: str, keys: Collection[str]) -> Table | None:
        """A sub-table, or None when it is absent (or no table, which is recorded)."""
        value = self._read(key, dict, None, required=False)
        return None if value is None else Table(value, self.at(key), self.problems, keys)

    def tables(self, key: str, keys: Collection[str], *, required: bool = True) -> Iterator[Table]:
        """An array of tables (`[[key]]`), each located by its index: `services[2]`.

        Each is opened as it is reached, so its problems come in file order.
        """
        where = self.at(key)
        value = self.data.get(key)
        if value is None:
            if required:
                self.problems.add(where, f"is required: add at least one [[{where}]] table")
            return iter(())
        if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
            self.problems.add(where, f"must be an array of tables ([[{where}]])")
            return iter(())
        return (Table(t, f"{where}[{i}]", self.problems, keys) for i, t in enumerate(value))


def bounds_text(
    at_least: float | None = None, more_than: float | None = None, at_most: float | None = None
) -> str:
    """'from 1 to 65535', 'more than 0 and at most 600', 'at least 1', ..."""
    if at_least is not None and at_most is not None:
        return f"from {at_least} to {at_most}"
    parts = []
    if at_least is not None:
        parts.append(f"at least {at_least}")
    if more_than is not None:
        parts.append(f"more than {more_than}")
    if at_most is not None:
        parts.append(f"at most {at_most}")
    return " and ".join(parts)


def clock(value: object, where: str, problems: Problems) -> time | None:
    """A time of day written "16:30", or None after recording why it is not one."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{2}:\d{2}", value):
        problems.add(where, f'must be a time like "16:30", not {value!r}')
        return None
    hour, minute = int(value[:2]), int(value[3:])
    if hour > 23 or minute > 59:
        problems.add(where, f"{value!r} is not a time of day")
        return None
    return time(hour, minute)


def span(
    value: object, where: str, problems: Problems, expected: str = 'like "12:00-12:45"'
) -> tuple[time, time] | None:
    """Two times of day written "12:00-12:45", in whatever order (the caller decides)."""
    m = SPAN_RE.match(value) if isinstance(value, str) else None
    if not m:
        problems.add(where, f"must be {expected}, not {value!r}")
        return None
    start, end = clock(m[1], where, problems), clock(m[2], where, problems)
    return (start, end) if start and end else None
