"""The schema helper: reads go on after a problem, and every problem keeps its location."""

from __future__ import annotations

import pytest

from nowserving.config.schema import Problems, Table, bounds_text
from nowserving.errors import ConfigError


def read(data: dict, keys=("a", "b", "c")) -> tuple[Table, Problems]:
    problems = Problems()
    return Table(data, "t", problems, keys), problems


def test_a_failed_read_records_the_problem_and_returns_the_default():
    table, problems = read({"a": True, "b": "x"})
    assert table.number("a", 3) == 3  # true is not a number, though Python says so
    assert table.need("b", int, 7) == 7
    assert table.need("c", str) is None
    assert problems.items == [
        "t.a: must be a number, not True",
        "t.b: must be a whole number, not 'x'",
        "t.c: is required",
    ]


def test_unknown_keys_get_the_closest_allowed_one_as_a_hint():
    _, problems = read({"bb": 1, "zzz": 2}, keys=("bb_", "c"))
    assert problems.items == ["t.bb: unknown key (did you mean 'bb_'?)", "t.zzz: unknown key"]


def test_arrays_of_tables_are_located_by_index():
    root, problems = read({"a": [{"id": "x"}, {"id": "x", "y": 1}]})
    ids: set[str] = set()
    assert [t.ident("id", ids) for t in root.tables("a", ("id",))] == ["x", "x"]
    assert problems.items == ["t.a[1].y: unknown key", "t.a[1].id: 'x' is used twice"]


def test_all_problems_are_raised_together():
    problems = Problems()
    problems.raise_if_any("f.toml")  # nothing yet: no error
    problems.add("a", "one")
    problems.add("b", "two")
    with pytest.raises(ConfigError) as info:
        problems.raise_if_any("f.toml")
    assert str(info.value) == "f.toml: 2 problem(s)\n  - a: one\n  - b: two"


@pytest.mark.parametrize(
    ("bounds", "text"),
    [
        ({"at_least": 1, "at_most": 9}, "from 1 to 9"),
        ({"more_than": 0, "at_most": 600}, "more than 0 and at most 600"),
        ({"at_least": 1}, "at least 1"),
    ],
)
def test_bounds_read_as_a_sentence(bounds, text):
    assert bounds_text(**bounds) == text


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("x = " + "[" * 5000 + "]" * 5000, "nested deeper than 32"),
        ("x = " + "{a = " * 3000 + "1" + "}" * 3000, "nested deeper than 32"),
        ("a" + ".a" * 100_000 + " = 1\n", "nested deeper than 32"),
        ("[" + ".".join(["t"] * 40) + "]\n", "nested deeper than 32"),
        ("# " + "x" * (2 * 1024 * 1024) + "\n", "a config file may have at most"),
    ],
    ids=["arrays", "inline-tables", "dotted-key", "table-header", "size"],
)
def test_toml_made_to_exhaust_the_parser_is_refused_at_once(tmp_path, text, said):
    """GIVEN a config file built to make tomllib recurse or crawl WHEN it is checked THEN
    `check-config` says what is wrong and exits 2, with no traceback (how long it took is
    printed: a fraction of a second, where a dotted key of 100,000 parts took tomllib 31 s)."""
    import subprocess
    import sys
    import time

    path = tmp_path / "bomb.toml"
    path.write_text(text, encoding="utf-8")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "nowserving", "check-config", str(path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    took = time.monotonic() - started
    assert done.returncode == 2, done.stderr[-500:]
    assert said in done.stderr and "Traceback" not in done.stderr
    print(f"{path.name}: refused in {took:.2f} s")


def test_ordinary_dotted_keys_and_numbers_are_not_depth():
    from nowserving.config.schema import _shape_problem

    text = 'a.b.c = 1\nx = 1.5\nt = 2026-11-23T09:00:00.5\nn = {zh = "a.b.c.d", en = "x"}\n'
    assert _shape_problem(text * 100) is None
