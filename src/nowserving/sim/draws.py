"""Random draws for one simulated service: arrivals, service times, patience."""

from __future__ import annotations

import math
import random

from nowserving.sim.world import SimService, curve_inverse


class ServiceDraws:
    """Draws for one service: interarrival times, service times, patience, priority."""

    def __init__(self, spec: SimService, rng: random.Random) -> None:
        self.spec, self.rng = spec, rng
        if spec.service_dist == "lognormal":
            sigma2 = math.log(1 + spec.service_cv**2)
            self.mu, self.sigma = math.log(spec.mean_service_s) - sigma2 / 2, math.sqrt(sigma2)

    def rate_at(self, hour: float) -> float:
        """Arrivals per second at `hour` of the day."""
        rates = self.spec.arrivals_per_hour
        index = min(len(rates) - 1, max(0, int(hour))) if len(rates) > 1 else 0
        return rates[index] / 3600

    def next_arrival(self, t: float) -> float:
        """The next arrival after t (s since day start), following the hour's rate."""
        while True:
            rate = self.rate_at(t / 3600)
            hour_end = (
                (math.floor(t / 3600) + 1) * 3600
                if len(self.spec.arrivals_per_hour) > 1
                else math.inf
            )
            if rate <= 0:
                if hour_end == math.inf:
                    return math.inf
                t = hour_end
                continue
            gap = self._gap(rate)
            if t + gap <= hour_end:
                return t + gap
            t = hour_end  # memoryless restart at the hour boundary (for M; approximate else)

    def _gap(self, rate: float) -> float:
        kind = self.spec.arrival_dist
        if kind == "D":
            return 1 / rate
        if kind == "H2":
            c2 = self.spec.arrival_scv
            p = (1 + math.sqrt((c2 - 1) / (c2 + 1))) / 2
            branch_rate = 2 * p * rate if self.rng.random() < p else 2 * (1 - p) * rate
            return self.rng.expovariate(branch_rate)
        return self.rng.expovariate(rate)

    def service_time(self) -> float:
        """Counter time for one customer at a counter of speed 1."""
        spec = self.spec
        if spec.service_dist == "fixed":
            return spec.mean_service_s
        if spec.service_dist == "lognormal":
            return self.rng.lognormvariate(self.mu, self.sigma)
        if spec.service_dist == "empirical":
            return curve_inverse(spec.service_table, self.rng.random())
        return self.rng.expovariate(1 / spec.mean_service_s)

    def patience(self) -> float:
        """A drawn patience: how long a customer waits before giving up (s; inf: never)."""
        spec = self.spec
        if spec.patience_curve:
            return curve_inverse(spec.patience_curve, self.rng.random())
        p = spec.patience_s
        return math.inf if p is None else self.rng.expovariate(1 / p)
