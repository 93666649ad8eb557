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
