"""Quantiles of the gamma distribution, standard library only (for wait intervals)."""

from __future__ import annotations

import math
from functools import lru_cache


def gamma_cdf(shape: float, x: float) -> float:
    """P(X <= x) for X ~ Gamma(shape, scale 1): the regularized lower incomplete gamma."""
    if x <= 0:
        return 0.0
    log_front = shape * math.log(x) - x - math.lgamma(shape)
    if x < shape + 1:  # series
        term = total = 1.0 / shape
        k = shape
        for _ in range(500):
            k += 1
            term *= x / k
            total += term
            if term < total * 1e-12:
                break
        return min(1.0, total * math.exp(log_front))
    # continued fraction (modified Lentz) for the upper tail
    tiny = 1e-300
    b = x + 1 - shape
    c, d = 1 / tiny, 1 / b
    h = d
    for i in range(1, 500):
        a = -i * (i - shape)
        b += 2
        d = a * d + b
        d = tiny if abs(d) < tiny else d
        c = b + a / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-12:
            break
    return max(0.0, 1.0 - math.exp(log_front) * h)


@lru_cache(maxsize=4096)
def _unit_quantile(shape: float, p: float) -> float:
    low, high = 0.0, max(1.0, shape) * 4 + 40
    for _ in range(80):
        mid = (low + high) / 2
        if gamma_cdf(shape, mid) < p:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def gamma_quantile(mean: float, variance: float, p: float) -> float:
    """The p-quantile of the gamma distribution with this mean and variance."""
    if mean <= 0:
        return 0.0
    if variance <= 0:
        return mean
    shape = mean * mean / variance
    # Shapes are rounded to 2 significant digits past 10 so the cache stays useful.
    shape = round(shape, 2) if shape < 10 else float(f"{shape:.3g}")
    shape = max(shape, 0.05)
    return _unit_quantile(shape, p) * mean / shape  # scale keeps the mean
