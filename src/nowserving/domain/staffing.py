"""Queueing formulas for staffing: Erlang C (M/M/c, customers wait as long as it takes) and
Erlang A (M/M/c+M, customers give up after an exponential patience).

Erlang C is computed from the Erlang B recursion B(k) = a·B(k-1) / (k + a·B(k-1)), which
never forms a factorial or a power and so neither overflows nor loses precision at large c.

Erlang A is the numerical solution of its birth–death chain (arrivals λ; in state n,
departures min(n, c)·μ + max(n - c, 0)·θ), truncated where the stationary mass left is
below 1e-12 (Garnett, Mandelbaum & Reiman 2002 describe the same chain; we solve it exactly
rather than use their asymptotics). The service level of an arriving customer (PASTA: they
see the stationary state) is the chance to reach a counter within t without giving up
first: the customer's position in line moves forward at rate c·μ + (ahead)·θ and they leave
at rate θ; that small absorbing chain is solved by uniformization. With θ = 0 it gives
Erlang C's 1 - C·exp(-(cμ - λ)t), which the tests check.

Rates are per second; times in seconds; `a = λ/μ` is the offered load in Erlangs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_COUNTERS = 500
_TAIL = 1e-12


@dataclass(frozen=True)
class QueueFigures:
    """What a model predicts for one hour: chance to wait, to give up, service level, ASA."""

    counters: int
    p_wait: float  # an arriving customer finds every counter busy
    service_level: float  # reaches a counter within the target wait (and did not give up)
    asa_s: float  # mean wait in line of all arrivals (inf: the line grows without bound)
    p_abandon: float = 0.0


def erlang_b(counters: int, load: float) -> float:
    """Erlang B: the chance that all `counters` are busy with offered `load` (Erlangs)."""
    b = 1.0
    for k in range(1, counters + 1):
        b = load * b / (k + load * b)
    return b


def erlang_c(counters: int, load: float) -> float:
    """Erlang C: the chance that an arrival waits (1 when `load` >= `counters`)."""
    if counters <= 0 or load >= counters:
        return 1.0
    if load <= 0:
        return 0.0
    b = erlang_b(counters, load)
    return counters * b / (counters - load * (1 - b))


def erlang_c_figures(
    counters: int, rate: float, mean_service_s: float, target_s: float
) -> QueueFigures:
    """Erlang C for `counters` with `rate` arrivals/s and mean service time (s)."""
    mu = 1 / mean_service_s
    load = rate * mean_service_s
    if counters <= load:
        return QueueFigures(counters, 1.0, 0.0, math.inf)
    c = erlang_c(counters, load)
    drain = counters * mu - rate
    return QueueFigures(counters, c, 1 - c * math.exp(-drain * target_s), c / drain)


def _stationary(counters: int, rate: float, mu: float, theta: float) -> list[float]:
    """The stationary distribution of the M/M/c+M chain, truncated at a negligible tail."""
    weights = [1.0]
    total = 1.0
    n = 0
    while True:
        n += 1
        down = min(n, counters) * mu + max(n - counters, 0) * theta
        w = weights[-1] * rate / down
        weights.append(w)
        total += w
        # Past the counters the ratio only falls (θ > 0): stop when the rest is negligible.
        if n > counters and w < _TAIL * total and rate < down:
            break
        if n > 200_000:
            break
        if w > 1e250:  # rescale: the weights are only relative
            weights = [x / w for x in weights]
            total /= w
    return [w / total for w in weights]


def _reach_within(
    ahead: list[float], counters: int, mu: float, theta: float, target_s: float
) -> float:
    """Chance that a customer with ahead[j] = P(j customers in line before them) reaches
    a counter within `target_s` without giving up (uniformization of the position chain)."""
    top = len(ahead)
    if top == 0:
        return 0.0
    speed = counters * mu + (top - 1) * theta + theta  # the largest total rate out
    lam_t = speed * target_s
    vector = list(ahead)  # vector[j]: still waiting with j ahead
    reached = 0.0
    log_weight = -lam_t
    result = 0.0
    steps = int(lam_t + 12 * math.sqrt(lam_t) + 30)
    for k in range(steps + 1):
        weight = math.exp(log_weight)
        result += weight * reached
        new = [0.0] * top
        for j, p in enumerate(vector):
            if p == 0.0:
                continue
            forward = (counters * mu + j * theta) / speed
            leave = theta / speed
            if j == 0:
                reached += p * forward
            else:
                new[j - 1] += p * forward
            new[j] += p * (1 - forward - leave)
        vector = new
        log_weight += math.log(lam_t) - math.log(k + 1) if lam_t > 0 else -math.inf
    # After the steps counted, the Poisson tail is negligible: add the rest at its limit.
    return result + max(0.0, 1 - _poisson_cdf(steps, lam_t)) * reached


def _poisson_cdf(k: int, mean: float) -> float:
    total, log_w = 0.0, -mean
    for i in range(k + 1):
        total += math.exp(log_w)
        log_w += math.log(mean) - math.log(i + 1) if mean > 0 else -math.inf
    return min(1.0, total)


def erlang_a_figures(
    counters: int, rate: float, mean_service_s: float, patience_s: float, target_s: float
) -> QueueFigures:
    """Erlang A (M/M/c+M) for `counters`; `patience_s` the mean (exponential) patience,
    math.inf for none (then the chain is Erlang C's and needs load < counters)."""
    if math.isinf(patience_s):
        return erlang_c_figures(counters, rate, mean_service_s, target_s)
    mu, theta = 1 / mean_service_s, 1 / patience_s
    pi = _stationary(counters, rate, mu, theta)
    p_wait = sum(pi[counters:])
    queue = pi[counters:]  # an arrival finding n >= c has n - c ahead
    in_line = sum((n - counters) * p for n, p in enumerate(pi) if n > counters)
    p_abandon = theta * in_line / rate if rate > 0 else 0.0
    served_at_once = 1 - p_wait
    level = served_at_once + _reach_within(queue, counters, mu, theta, target_s)
    # Little's law over everyone who joins: mean time in line = E[line] / λ.
    asa = in_line / rate if rate > 0 else 0.0
    return QueueFigures(counters, p_wait, min(1.0, level), asa, p_abandon)


def counters_needed(
    rate: float,
    mean_service_s: float,
    target_level: float,
    target_s: float,
    patience_s: float = math.inf,
) -> QueueFigures | None:
    """The fewest counters whose service level reaches `target_level` (0..1) within
    `target_s` (Erlang C without patience, Erlang A with it); None when no arrivals."""
    if rate <= 0:
        return None
    start = 1 if not math.isinf(patience_s) else max(1, math.floor(rate * mean_service_s) + 1)
    for c in range(start, MAX_COUNTERS + 1):
        figures = erlang_a_figures(c, rate, mean_service_s, patience_s, target_s)
        if figures.service_level >= target_level:
            return figures
    return None
