"""What the branch learns from what it sees, as a fold of events: how long counters are
occupied per service, how often called customers have gone (and so the rate at which
waiting customers give up), and how often each priority class arrives.

No true rates are known here; everything comes from the branch's own events.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

OCCUPANCY_WINDOW = 2000  # counter occupancies kept per service
OUTCOME_WINDOW = 2000  # (time in line, was there) pairs kept per service, for abandonment
ARRIVAL_WINDOW_S = 3600.0  # arrival rates are counted over the last hour
PRIOR_OCCUPANCY_S = 300.0  # before anything is seen and with no typical_minutes: 5 minutes
PRIOR_WEIGHT = 5  # ... until this many customers have been served
THETA_EVERY = 50  # observations between refits of the abandonment rate
PAUSE_WINDOW = 200  # pause lengths kept
REACTION_WINDOW = 500  # staff reaction times kept
MIN_REACTIONS = 10
PRIOR_PAUSE_S = 1800.0  # before any pause has ended: half an hour


@dataclass
class ServiceLearning:
    """Observations for one service."""

    occupancy: deque  # seconds a counter spent per served customer (call -> finish)
    no_show_occupancy: deque  # seconds a counter spent on a customer who had gone
    outcomes: deque  # (seconds in line when called, 1 if gone else 0)
    arrivals: dict  # priority -> deque of arrival times

    @classmethod
    def new(cls) -> ServiceLearning:
        return cls(
            deque(maxlen=OCCUPANCY_WINDOW),
            deque(maxlen=OCCUPANCY_WINDOW),
            deque(maxlen=OUTCOME_WINDOW),
            {},
        )


class Learner:
    """Per-service statistics folded from events; cheap to query."""

    def __init__(self, services, priors: dict[str, float] | None = None) -> None:
        # Expected occupancy per service until PRIOR_WEIGHT customers have been served.
        self.priors = priors or {}
        self.services: dict[str, ServiceLearning] = {s: ServiceLearning.new() for s in services}
        self._theta: dict[str, float] = {}  # refitted every THETA_EVERY observations
        self._seen: dict[str, int] = {}
        self.pauses: deque = deque(maxlen=PAUSE_WINDOW)  # seconds counters stayed paused
        # Seconds from a customer's arrival at a free counter to their call: staff react.
        self.reactions: deque = deque(maxlen=REACTION_WINDOW)

    def _of(self, service: str) -> ServiceLearning:
        if service not in self.services:
            self.services[service] = ServiceLearning.new()
        return self.services[service]

    # ----- the fold ------------------------------------------------------------------

    def arrived(self, service: str, priority: str, at: float) -> None:
        times = self._of(service).arrivals.setdefault(priority, deque())
        times.append(at)
        while times and times[0] < at - ARRIVAL_WINDOW_S:
            times.popleft()

    def served(self, service: str, occupancy: float, in_line: float) -> None:
        learning = self._of(service)
        learning.occupancy.append(max(0.0, occupancy))
        self._outcome(service, in_line, 0)

    def gone(self, service: str, occupancy: float, in_line: float) -> None:
        learning = self._of(service)
        learning.no_show_occupancy.append(max(0.0, occupancy))
        self._outcome(service, in_line, 1)

    def _outcome(self, service: str, in_line: float, gone: int) -> None:
        learning = self._of(service)
        learning.outcomes.append((max(0.0, in_line), gone))
        seen = self._seen[service] = self._seen.get(service, 0) + 1
        # Refitted at fixed points of the fold, so a replay or a restart gives the same θ.
        if seen % THETA_EVERY == 0 or (gone and service not in self._theta):
            self._theta[service] = _abandonment_mle(learning.outcomes)

    def paused_for(self, seconds: float) -> None:
        self.pauses.append(max(0.0, seconds))

    def reacted(self, seconds: float) -> None:
        self.reactions.append(max(0.0, seconds))

    # ----- queries -------------------------------------------------------------------

    def reaction_times(self) -> list[float]:
        """Observed delays before a free counter calls a newcomer ([] until a few are seen:
        then a free counter is taken to call at once)."""
        return list(self.reactions) if len(self.reactions) >= MIN_REACTIONS else []

    def pause_left(self, elapsed: float) -> float:
        """Expected seconds until a counter paused for `elapsed` seconds opens again:
        the mean excess over `elapsed` of the pauses seen (a pause lasts PRIOR_PAUSE_S
        before any has been seen)."""
        longer = [p - elapsed for p in self.pauses if p > elapsed]
        if longer:
            return sum(longer) / len(longer)
        return max(PRIOR_PAUSE_S - elapsed, PRIOR_PAUSE_S / 2)

    def mean_occupancy(self, service: str) -> float:
        """Mean seconds a counter spends on a served customer of `service`; a prior of
        PRIOR_OCCUPANCY_S stands in until PRIOR_WEIGHT customers have been seen."""
        window = self._of(service).occupancy
        if len(window) >= PRIOR_WEIGHT:
            return sum(window) / len(window)
        prior = self.priors.get(service, PRIOR_OCCUPANCY_S)
        return (sum(window) + (PRIOR_WEIGHT - len(window)) * prior) / PRIOR_WEIGHT

    def mean_no_show_occupancy(self, service: str) -> float:
        window = self._of(service).no_show_occupancy
        return sum(window) / len(window) if window else 0.0

    def occupancies(self, service: str) -> deque:
        return self._of(service).occupancy

    def arrival_rate(self, service: str, priority: str, now: float) -> float:
        """Arrivals per second of `priority` at `service` over the last hour."""
        times = self._of(service).arrivals.get(priority, ())
        recent = sum(1 for t in times if t >= now - ARRIVAL_WINDOW_S)
        return recent / ARRIVAL_WINDOW_S

    def abandonment_rate(self, service: str) -> float:
        """θ: the rate at which a waiting customer gives up, by maximum likelihood.

        A customer called after w seconds in line was there with probability e^(-θw) and
        had gone with probability 1 - e^(-θw).
        """
        return self._theta.get(service, 0.0)

    def copy(self) -> Learner:
        """An independent copy (for estimating on another thread): copying the windows'
        deques is cheap, and what they hold (floats, tuples) is immutable."""
        other = Learner(self.services, self.priors)
        other.services = {
            s: ServiceLearning(
                x.occupancy.copy(),
                x.no_show_occupancy.copy(),
                x.outcomes.copy(),
                {p: t.copy() for p, t in x.arrivals.items()},
            )
            for s, x in self.services.items()
        }
        other._theta, other._seen = dict(self._theta), dict(self._seen)
        other.pauses, other.reactions = self.pauses.copy(), self.reactions.copy()
        return other

    # ----- snapshots -----------------------------------------------------------------

    def to_dict(self) -> dict:
        return {
            "pauses": list(self.pauses),
            "reactions": list(self.reactions),
            "services": {
                s: {
                    "occupancy": list(x.occupancy),
                    "no_show_occupancy": list(x.no_show_occupancy),
                    "outcomes": [list(o) for o in x.outcomes],
                    "arrivals": {p: list(t) for p, t in x.arrivals.items()},
                    "seen": self._seen.get(s, 0),
                    "theta": self._theta.get(s),
                }
                for s, x in self.services.items()
            },
        }

    @classmethod
    def from_dict(cls, services, d: dict, priors: dict[str, float] | None = None) -> Learner:
        learner = cls(services, priors)
        learner.pauses.extend(d["pauses"])
        learner.reactions.extend(d["reactions"])
        for s, x in d["services"].items():
            learning = learner._of(s)
            learning.occupancy.extend(x["occupancy"])
            learning.no_show_occupancy.extend(x["no_show_occupancy"])
            learning.outcomes.extend(tuple(o) for o in x["outcomes"])
            learning.arrivals = {p: deque(t) for p, t in x["arrivals"].items()}
            learner._seen[s] = x["seen"]
            if x["theta"] is not None:
                learner._theta[s] = x["theta"]
        return learner


def _abandonment_mle(outcomes) -> float:
    gone = [w for w, g in outcomes if g and w > 0]
    if not gone:
        return 0.0
    present_total = sum(w for w, g in outcomes if not g)
    if present_total <= 0:
        return 1.0 / max(1e-9, min(gone))

    def slope(theta: float) -> float:  # d/dθ of the log-likelihood; decreasing in θ
        total = -present_total
        for w in gone:
            x = theta * w
            total += w / math.expm1(x) if x < 700 else 0.0
        return total

    low, high = 1e-12, 1.0
    while slope(high) > 0 and high < 1e6:
        high *= 10
    for _ in range(60):
        mid = math.sqrt(low * high)
        if slope(mid) > 0:
            low = mid
        else:
            high = mid
    return math.sqrt(low * high)
