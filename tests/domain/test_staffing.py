"""Erlang C and Erlang A against exact and textbook figures."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from nowserving.domain.staffing import (
    counters_needed,
    erlang_a_figures,
    erlang_c,
    erlang_c_figures,
)


def exact_erlang_c(c: int, a: int) -> float:
    """The textbook formula with factorials, in exact rationals: a second implementation."""
    top = Fraction(a**c, math.factorial(c)) * Fraction(c, c - a)
    return float(top / (sum(Fraction(a**k, math.factorial(k)) for k in range(c)) + top))


@pytest.mark.parametrize(("c", "a"), [(2, 1), (11, 10), (14, 10), (55, 48), (120, 100)])
def test_erlang_c_equals_the_factorial_formula(c, a):
    assert erlang_c(c, a) == pytest.approx(exact_erlang_c(c, a), rel=1e-12)


def test_the_classic_worked_example():
    """GIVEN the call-centre worked example (100 calls in 30 min, 180 s handling, 20 s
    target: 10 Erlangs) THEN with 11 agents P(wait) = 68.2 %, service level 39.0 %, ASA
    122.8 s, and 14 agents are the fewest for 80 % within 20 s (figures checked against the
    exact rational formula above, not against a cited table)."""
    figures = erlang_c_figures(11, 100 / 1800, 180, 20)
    assert figures.p_wait == pytest.approx(0.6821, abs=1e-4)
    assert figures.service_level == pytest.approx(0.3896, abs=1e-3)
    assert figures.asa_s == pytest.approx(122.8, abs=0.1)
    assert counters_needed(100 / 1800, 180, 0.8, 20).counters == 14


def test_no_overflow_at_large_sizes():
    assert 0 < erlang_c(2000, 1950) < 1


def test_erlang_a_with_endless_patience_is_erlang_c():
    """GIVEN patience far longer than any wait THEN Erlang A's chain gives Erlang C's
    P(wait), service level and ASA (the uniformized position chain included)."""
    a = erlang_a_figures(55, 0.2, 240, 1e9, 15)
    c = erlang_c_figures(55, 0.2, 240, 15)
    assert a.p_wait == pytest.approx(c.p_wait, rel=1e-5)
    assert a.service_level == pytest.approx(c.service_level, rel=1e-5)
    assert a.asa_s == pytest.approx(c.asa_s, rel=1e-4)


def test_erlang_a_mm1_patience_equal_to_service_is_poisson():
    """GIVEN M/M/1+M with θ = μ THEN the chain is M/M/∞'s: P(n) Poisson(λ/μ), so
    P(wait) = 1 - e^-a and P(abandon) = θ·E[line]/λ = (a - 1 + e^-a)/a."""
    rate, mean = 1 / 100, 150.0
    a = rate * mean
    figures = erlang_a_figures(1, rate, mean, mean, 60)
    assert figures.p_wait == pytest.approx(1 - math.exp(-a), rel=1e-9)
    assert figures.p_abandon == pytest.approx((a - 1 + math.exp(-a)) / a, rel=1e-9)


def test_abandonment_lets_fewer_counters_meet_an_overloaded_target():
    """Customers who give up shorten the line: Erlang A never asks for more than C, and
    is stable where Erlang C is not (load above the counters)."""
    assert (
        counters_needed(0.05, 180, 0.8, 600, 300).counters
        <= counters_needed(0.05, 180, 0.8, 600).counters
    )
    over = erlang_a_figures(3, 0.05, 180, 300, 600)  # 9 Erlangs on 3 counters
    assert 0 < over.service_level < 1 and over.p_abandon > 0.4
