"""Gamma quantiles for wait intervals: tabulated values, numeric edges and properties.

Reference values are from chi-square tables (Gamma(k) quantile = chi²_{p, 2k} / 2) or,
where marked, from scipy.special.gammaincinv (not a dependency: computed once, pasted).
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nowserving.domain import gamma
from nowserving.domain.gamma import gamma_cdf, gamma_quantile


def unit(shape: float, p: float) -> float:
    """The p-quantile of Gamma(shape, scale 1), through the public mean/variance API."""
    return gamma_quantile(shape, shape, p)  # mean k, variance k: scale 1


probabilities = st.floats(0, 1, exclude_min=True, exclude_max=True)
# Shapes the cache rounding leaves alone (2 decimals below 10, 3 significant digits above).
rounded_shapes = st.one_of(
    st.integers(50, 999).map(lambda n: n / 100),
    st.integers(100, 999).map(lambda n: n / 10),
    st.integers(100, 200).map(float),
)


@pytest.mark.parametrize("p", [1e-10, 1e-3, 0.1, 0.5, 0.9, 0.999, 1 - 1e-12])
def test_shape_one_is_the_exponential(p):
    """GIVEN Gamma(1) WHEN its p-quantile is taken THEN it is −ln(1 − p)."""
    assert unit(1.0, p) == pytest.approx(-math.log1p(-p), rel=1e-9, abs=0)


@pytest.mark.parametrize(
    ("p", "dof", "chi2"),
    [
        (0.90, 4, 7.7794),
        (0.90, 1, 2.7055),
        (0.10, 20, 12.443),
        (0.90, 200, 226.021),
        (0.95, 10, 18.307),
        (0.05, 10, 3.940),
        (0.99, 1, 6.635),
    ],
)
def test_quantiles_match_the_chi_square_table(p, dof, chi2):
    """GIVEN a chi-square table value WHEN Gamma(dof/2) is inverted THEN it is chi²/2."""
    assert unit(dof / 2, p) == pytest.approx(chi2 / 2, rel=1e-3, abs=0)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_the_crashing_case_returns_about_the_mean(p):
    """GIVEN mean 1e9 and variance 1e-3 (x + 1 == x) WHEN quantiled THEN mean + z·sd."""
    z = {0.1: -1.2815515655446004, 0.5: 0.0, 0.9: 1.2815515655446004}[p]
    assert gamma_quantile(1e9, 1e-3, p) == pytest.approx(1e9 + z * math.sqrt(1e-3), abs=1e-4)


def test_lentz_survives_a_zero_first_denominator():
    """GIVEN x = k with x + 1 == x WHEN the continued fraction runs THEN no division by 0."""
    k = 2.0**60
    assert k + 1 - k == 0
    assert 0.0 <= gamma._upper_fraction(k, k) <= 1.0
    assert gamma_cdf(k, k) == pytest.approx(0.5, abs=1e-6)


@pytest.mark.parametrize(
    ("shape", "p", "expected"),  # expected from scipy.special.gammaincinv
    [
        (999.0, 0.1, 958.7142039199942),
        (999.0, 0.9, 1039.7140368136463),
        (1000.0, 0.1, 959.6939327288333),
        (1000.0, 0.9, 1040.73430801369),
        (2000.0, 0.1, 1942.9056589641743),
        (2000.0, 0.9, 2057.522586213722),
        (1e6, 0.1, 998718.6627499802),
        (1e6, 0.9, 1001281.7654996209),
    ],
)
def test_large_shapes_on_both_sides_of_the_switch(shape, p, expected):
    """GIVEN shapes around and past LARGE_SHAPE WHEN quantiled THEN within 1e-6 relative."""
    assert unit(shape, p) == pytest.approx(expected, rel=1e-6, abs=0)


def test_wilson_hilferty_agrees_with_the_exact_method_at_the_threshold():
    """GIVEN k = LARGE_SHAPE WHEN both methods invert it THEN within 4e-5 for p in 1e-6…1-1e-6."""
    k = gamma.LARGE_SHAPE
    for p in [1e-6, 1e-4, 0.01, 0.1, 0.5, 0.9, 0.99, 1 - 1e-4, 1 - 1e-6]:
        exact = gamma._unit_quantile.__wrapped__(k - 1e-9, p)  # just below: exact cdf
        assert k * gamma._wilson_hilferty(k, p) == pytest.approx(exact, rel=4e-5, abs=0)


@pytest.mark.parametrize(
    ("shape", "p", "expected"),  # expected from scipy.special.gammaincinv
    [
        (0.05, 1e-6, 5.844632057286552e-121),
        (0.05, 0.1, 5.844632057286505e-21),
        (0.05, 0.9, 0.07631711390918905),
        (0.05, 1 - 1e-9, 15.116740106874813),
        (0.5, 1e-12, 7.853981633974466e-25),
        (100.0, 1e-12, 44.8860220300176),
        (100.0, 1 - 1e-12, 187.24800173918612),
    ],
)
def test_tiny_quantiles_and_far_tails_keep_their_relative_accuracy(shape, p, expected):
    """GIVEN a tiny shape or p near 0 or 1 WHEN quantiled THEN within 1e-9 relative."""
    assert unit(shape, p) == pytest.approx(expected, rel=1e-9, abs=0)


@pytest.mark.parametrize("shape", [1e-3, 0.01, 0.04])
def test_tiny_shapes_are_raised_to_the_minimum(shape):
    """GIVEN a shape below MIN_SHAPE WHEN quantiled THEN it is that of MIN_SHAPE, same mean."""
    mean = 300.0
    variance = mean * mean / shape
    at_min = mean * mean / gamma.MIN_SHAPE
    for p in (0.1, 0.9):
        assert gamma_quantile(mean, variance, p) == gamma_quantile(mean, at_min, p)
    assert gamma_quantile(mean, variance, 0.1) < mean < gamma_quantile(mean, variance, 0.9)


@pytest.mark.parametrize("p", [5e-324, 1e-300, 1e-100, 1 - 1e-15, 1 - 2**-53])
@pytest.mark.parametrize("shape", [0.05, 0.5, 1.0, 7.0, 200.0, 999.0, 1e4, 1e12, 1e300])
def test_p_near_zero_or_one_gives_a_finite_quantile(shape, p):
    """GIVEN p a hair from 0 or 1 WHEN quantiled THEN finite, >= 0, on its side of the median."""
    q = unit(shape, p)
    assert math.isfinite(q) and q >= 0
    assert (q <= unit(shape, 0.5)) if p < 0.5 else (q >= unit(shape, 0.5))


@pytest.mark.parametrize(
    ("mean", "variance", "p", "expected"),
    [
        (300.0, 900.0, 0.0, 0.0),
        (300.0, 900.0, -0.5, 0.0),
        (300.0, 900.0, 1.0, math.inf),
        (300.0, 900.0, 2.0, math.inf),
        (300.0, 900.0, math.nan, math.nan),
        (0.0, 900.0, 0.9, 0.0),
        (-5.0, 900.0, 0.9, 0.0),
        (-math.inf, 900.0, 0.9, 0.0),
        (math.nan, 900.0, 0.9, math.nan),
        (math.inf, 900.0, 0.9, math.inf),
        (300.0, 0.0, 0.9, 300.0),
        (300.0, -1.0, 0.9, 300.0),
        (300.0, math.nan, 0.9, 300.0),
        (300.0, -math.inf, 0.9, 300.0),
    ],
)
def test_degenerate_and_non_finite_inputs_follow_the_documented_rules(mean, variance, p, expected):
    """GIVEN an edge input WHEN quantiled THEN the documented value, without raising."""
    q = gamma_quantile(mean, variance, p)
    assert (math.isnan(q) and math.isnan(expected)) or q == expected


@pytest.mark.parametrize(
    ("mean", "variance"),
    [
        (300.0, math.inf),
        (1e-300, 1e300),
        (5e-324, 1.0),
        (1e-300, 1e-310),
        (1e308, 1e-308),
        (1e308, 1e308),
        (1.7e308, math.inf),
        (1e200, 1e-200),
    ],
)
@pytest.mark.parametrize("p", [1e-9, 0.1, 0.9, 1 - 1e-9])
def test_finite_means_never_give_nan_or_inf(mean, variance, p):
    """GIVEN a finite mean > 0 and any variance > 0 WHEN quantiled THEN finite and >= 0."""
    q = gamma_quantile(mean, variance, p)
    assert math.isfinite(q) and q >= 0


@settings(max_examples=300, deadline=None)
@given(
    mean=st.floats(1e-6, 1e9),
    shape=st.floats(1e-4, 1e15),
    p1=probabilities,
    p2=probabilities,
)
def test_quantiles_increase_with_p(mean, shape, p1, p2):
    """GIVEN any mean and shape WHEN p grows THEN the quantile does not shrink."""
    variance = mean / shape * mean
    low, high = sorted((p1, p2))
    assert gamma_quantile(mean, variance, low) <= gamma_quantile(mean, variance, high)


@settings(max_examples=200, deadline=None)
@given(shape=rounded_shapes, p=st.floats(1e-6, 1 - 1e-6))
def test_cdf_of_the_quantile_is_p(shape, p):
    """GIVEN a moderate shape WHEN the cdf is taken at the p-quantile THEN it gives p back."""
    assert gamma_cdf(shape, unit(shape, p)) == pytest.approx(p, rel=1e-9, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(
    mean=st.floats(1e-3, 1e6),
    shape=st.floats(1e-4, 1e15),
    power=st.integers(-40, 40),
    p=probabilities,
)
def test_the_quantile_scales_with_the_mean(mean, shape, power, p):
    """GIVEN a fixed shape WHEN mean scales by 2^n (variance by 4^n) THEN so does the quantile."""
    # Powers of two leave mean²/variance bit-identical, so the shape's rounding and the
    # method switch at LARGE_SHAPE cannot differ between the two calls; the scaling is
    # then exact, bar quantiles so small (tiny p) that they are subnormal.
    factor = 2.0**power
    variance = mean / shape * mean
    scaled = gamma_quantile(factor * mean, factor * factor * variance, p)
    expected = factor * gamma_quantile(mean, variance, p)
    assert scaled == pytest.approx(expected, rel=1e-15, abs=1e-300)


@pytest.mark.parametrize("factor", [1e-4, 0.37, 3.7, 6e4])
@pytest.mark.parametrize("shape", [0.5, 2.5, 42.0, 150.0, 1e6])
def test_the_quantile_keeps_the_mean_s_scale(shape, factor):
    """GIVEN one shape at two scales WHEN quantiled THEN the quantile over the mean is the same."""
    mean = 250.0
    for p in (0.1, 0.9):
        base = gamma_quantile(mean, mean * mean / shape, p) / mean
        scaled = gamma_quantile(factor * mean, (factor * mean) ** 2 / shape, p) / (factor * mean)
        assert scaled == pytest.approx(base, rel=1e-9, abs=0)


@pytest.mark.parametrize("shape", [0.5, 3.0, 40.0, 200.0, 5000.0, 1e9])
def test_the_interval_brackets_the_mean(shape):
    """GIVEN a wait's mean and variance WHEN its 80% interval is taken THEN it holds the mean."""
    mean = 600.0
    variance = mean * mean / shape
    low, high = gamma_quantile(mean, variance, 0.1), gamma_quantile(mean, variance, 0.9)
    assert 0 < low < mean < high
    assert high - low == pytest.approx(2.563 * math.sqrt(variance), rel=0.3 if shape < 40 else 0.02)
