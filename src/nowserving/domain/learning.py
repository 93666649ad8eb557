"""What the branch learns from what it sees, as a fold of events: how long counters are
occupied per service (and how much faster or slower each counter is), how often called
customers have gone (and so the rate at which waiting customers give up), and how often
each priority class arrives.

No true rates are known here; everything comes from the branch's own events.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from statistics import NormalDist
from zoneinfo import ZoneInfo

from nowserving.domain import calibration
from nowserving.domain.calibration import Calibration, stratum

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
# Per counter: its recent occupancies per service, from which its speed is judged.
COUNTER_WINDOW = 300
# Counter speeds are refitted every SPEEDS_EVERY customers served (at fixed points of the
# fold, so a replay gives the same), from counters that have served at least MIN_SPEED_DATA.
SPEEDS_EVERY = 50
MIN_SPEED_DATA = 5
GENERAL = "*"  # a counter's speed over all its services (no service id has a "*")
# Calibration of the intervals: how the model's intervals missed the waits of the customers
# served on the last CALIBRATION_DAYS business days (at most CALIBRATION_CAP kept),
# refitted every CALIBRATION_EVERY, used once CALIBRATION_FROM have been seen over at least
# two days. Whole days, because misses come in spells (a busy hour, a break): factors
# fitted on a window of a few hours chase the last spell and make the next one worse. The
# aim: 10% below, 10% above. Within the day each group's drift (`calibration.drifted`)
# follows a spell by small steps instead.
CALIBRATION_DAYS = 3
CALIBRATION_CAP = 10_000
CALIBRATION_EVERY = 50
MISS_SHARE = 0.10
CALIBRATION_FLOOR_S = 0.01
# Before MIN_REACTIONS reactions have been seen, staff are taken to react as the
# simulator's staff do (2-20 s, evenly spread), the seen ones counted beside them: a
# newcomer at a free counter is never promised 0 s before anything is known.
PRIOR_REACTIONS_S = tuple(2.0 + 18.0 * (i + 0.5) / MIN_REACTIONS for i in range(MIN_REACTIONS))
# Bookings (docs/estimates.md, "Bookings"): when booked customers check in, against their
# booked time (s; the last BOOKING_WINDOW), and whether they came at all. Until
# MIN_BOOKING_OFFSETS check-ins are seen, the prior's check-ins count beside them: 20
# customers spread as a normal of mean -5 min and sd 5 min (most come a little early). The
# booking no-show rate starts from a prior of 1 in BOOKING_PRIOR_WEIGHT bookings missed,
# counted beside those seen until MIN_BOOKING_OUTCOMES are.
BOOKING_WINDOW = 500
MIN_BOOKING_OFFSETS = 20
MIN_BOOKING_OUTCOMES = 50
PRIOR_BOOKING_OFFSETS_S = tuple(
    -300.0 + 300.0 * NormalDist().inv_cdf((i + 0.5) / MIN_BOOKING_OFFSETS)
    for i in range(MIN_BOOKING_OFFSETS)
)
BOOKING_PRIOR_WEIGHT = 10
# Arrivals by time of day (issue 22, the day's edges): each service's and priority class's
# arrivals per PROFILE_SLOT_S of the business day, over the days before today (each day
# before weighing 1 - 1/PROFILE_DAYS less), so that the rate expected over the next
# PROFILE_SPAN_S follows the day's shape instead of carrying the last hour's forward (which
# lags every rise and fall of the day: a lunch peak under-expected, the afternoon's ebb
# over-expected). Today's level against the profile's, over the last hour, scales it, with
# LEVEL_PRIOR arrivals on either side: an hour's count is Poisson (±20% at 25 arrivals), a
# day's level differs from the usual by perhaps 15-20%, and 1 / 0.18² ≈ 30 weighs the two.
PROFILE_SLOT_S = 900.0
PROFILE_SLOTS = 96
PROFILE_DAYS = 20
PROFILE_SPAN_S = 3600.0
PROFILE_STRETCHES = 12  # hours of arrivals expected ahead by the profile (`expected_rates`)
LEVEL_PRIOR = 30.0


@dataclass
class ServiceLearning:
    """Observations for one service."""

    occupancy: deque  # seconds a counter spent per served customer (call -> finish)
    occupancy_counters: deque  # ... and which counter it was (None: not known)
    no_show_occupancy: deque  # seconds a counter spent on a customer who had gone
    outcomes: deque  # (seconds in line when called, 1 if gone else 0)
    arrivals: dict  # priority -> deque of arrival times

    @classmethod
    def new(cls) -> ServiceLearning:
        """Nothing learned yet."""
        return cls(
            deque(maxlen=OCCUPANCY_WINDOW),
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
        # ... and how many counters that serve the customer were free then (each reaction
        # seen is the first of that many staff to call).
        self.reaction_free: deque = deque(maxlen=REACTION_WINDOW)
        # Seconds from a finish to the next call while someone was waiting: staff turn
        # around (write up, tidy, press next) between customers.
        self.turnarounds: deque = deque(maxlen=REACTION_WINDOW)
        # counter -> service -> its recent occupancies: how fast each counter is.
        self.counters: dict[str, dict[str, deque]] = {}
        self._speeds: dict[str, dict[str, float]] = {}  # counter -> service -> factor
        self._served = 0
        # (log(low / wait), log(wait / high)) of the model's intervals given at issue, and
        # the log factors the intervals are stretched by (refitted at fixed points).
        self.misses: deque = deque(maxlen=CALIBRATION_CAP)  # (day, below, above, stratum)
        # Of recalled customers, 1 for each who had gone, 0 for each who came after all.
        self.recalled: deque = deque(maxlen=OUTCOME_WINDOW)
        self._calibration = _prior_only()
        # group -> how far (log) both ends are stretched on top of the factors, moved by
        # each judged customer's printed interval (`calibration.drifted`).
        self.drift: dict[str, float] = {}
        self._judged = 0
        # The calibration is refitted at fixed points of the fold (every CALIBRATION_EVERY
        # judged), from the misses as they were there, so a replay gives the same factors.
        # `_due`: (judged, the misses then) of a fixed point not fitted yet; `_fitted`: the
        # fixed point `_calibration` was fitted at. Where `fit_elsewhere` (the server's
        # apply loop), the fit is made by whoever gets a `copy` (its estimating process) and
        # given back with `take_fit`; meanwhile the factors of the fixed point before stand.
        self._due: tuple[int, tuple] | None = None
        self._fitted = 0
        self.fit_elsewhere = False
        # Booked customers: check-in time less booked time (s), and 1 for each booking
        # missed (a booking no-show), 0 for each checked in.
        self.booking_offsets: deque = deque(maxlen=BOOKING_WINDOW)
        self.booking_outcomes: deque = deque(maxlen=BOOKING_WINDOW)
        # Arrivals by time of day: service -> priority -> per slot, of the days before
        # (weighted) and of today; the weighted number of days, and today's business day.
        self.profile: dict[str, dict[str, list[float]]] = {}
        self.today: dict[str, dict[str, list[float]]] = {}
        self.profile_days = 0.0
        self.profile_day: str | None = None

    def _of(self, service: str) -> ServiceLearning:
        if service not in self.services:
            self.services[service] = ServiceLearning.new()
        return self.services[service]

    # ----- the fold ------------------------------------------------------------------

    def arrived(
        self, service: str, priority: str, at: float, clock: tuple[str, float] | None = None
    ) -> None:
        """A customer arrived for `service` at `at`; `clock`: (business day, seconds from
        its start) of `at` (`day_clock`), for the arrivals by time of day."""
        times = self._of(service).arrivals.setdefault(priority, deque())
        times.append(at)
        while times and times[0] < at - ARRIVAL_WINDOW_S:
            times.popleft()
        if clock is None:
            return
        day, second = clock
        if day != self.profile_day:
            self._close_profile_day()
            self.profile_day = day
        own = self.today.setdefault(service, {})
        counts = own.setdefault(priority, [0.0] * PROFILE_SLOTS)
        counts[min(PROFILE_SLOTS - 1, max(0, int(second // PROFILE_SLOT_S)))] += 1

    def _close_profile_day(self) -> None:
        """Today's arrivals by time of day join the profile (the days before weigh less)."""
        if not self.today:
            return
        keep = 1 - 1 / PROFILE_DAYS
        for own in self.profile.values():
            for counts in own.values():
                counts[:] = [c * keep for c in counts]
        for service, own in self.today.items():
            mine = self.profile.setdefault(service, {})
            for priority, counts in own.items():
                old = mine.setdefault(priority, [0.0] * PROFILE_SLOTS)
                old[:] = [a + b for a, b in zip(old, counts, strict=True)]
        self.profile_days = self.profile_days * keep + 1
        self.today = {}

    def served(
        self, service: str, occupancy: float, in_line: float, counter: str | None = None
    ) -> None:
        """A customer was served: how long the counter was taken, and how long they waited."""
        learning = self._of(service)
        occupancy = max(0.0, occupancy)
        learning.occupancy.append(occupancy)
        learning.occupancy_counters.append(counter)
        if counter is not None:
            own = self.counters.setdefault(counter, {})
            if service not in own:
                own[service] = deque(maxlen=COUNTER_WINDOW)
            own[service].append(occupancy)
        self._served += 1
        if self._served % SPEEDS_EVERY == 0:
            self._fit_speeds()
        self._outcome(service, in_line, 0)

    def gone(self, service: str, occupancy: float, in_line: float) -> None:
        """A customer called did not come (no-show): how long the counter waited for them."""
        learning = self._of(service)
        learning.no_show_occupancy.append(max(0.0, occupancy))
        self._outcome(service, in_line, 1)

    def _outcome(self, service: str, in_line: float, gone: int) -> None:
        learning = self._of(service)
        learning.outcomes.append((max(0.0, in_line), gone))
        seen = self._seen[service] = self._seen.get(service, 0) + 1
        # Refitted at fixed points of the fold, so a replay or a restart gives the same θ:
        # every THETA_EVERY calls, and at every call until the service has THETA_EVERY once
        # one of them had gone. Fitted once on the first handful (one no-show among
        # customers called at once), a quiet service kept a patience of minutes for days.
        if seen % THETA_EVERY == 0 or (seen < THETA_EVERY and (gone or service in self._theta)):
            self._theta[service] = _abandonment_mle(learning.outcomes)

    def judged(self, estimate: dict | None, wait: float, day: str = "") -> None:
        """A served customer waited `wait` s after being given `estimate` at issue on
        business day `day`. Those called at once are left out: the promise is about
        customers who had to wait."""
        if not estimate or estimate.get("raw") is None or wait <= 0:
            return
        group = stratum(estimate.get("ahead", 0), estimate.get("mean", 0.0))
        if group in calibration.SHORT_GROUPS and "low" in estimate and "high" in estimate:
            held = estimate["low"] <= wait <= estimate["high"]
            self.drift[group] = calibration.drifted(self.drift.get(group, 0.0), not held)
        low, high = estimate["raw"]
        # A model's low end may be 0 (a free counter that calls at once): a floor far
        # below any wait that matters keeps the logarithms finite.
        wait, low, high = (max(CALIBRATION_FLOOR_S, x) for x in (wait, low, high))
        self.misses.append((day, math.log(low / wait), math.log(wait / high), group))
        self._judged += 1
        if self._judged % CALIBRATION_EVERY == 0:
            self._due = (self._judged, tuple(self.misses))  # ~0.05 ms for 10,000
            if not self.fit_elsewhere:
                self.fit_due()

    def fit_due(self) -> tuple[int, Calibration] | None:
        """Make the fit a fixed point asked for and not made yet (~3 ms over 10,000 misses);
        returns (its fixed point, the calibration), or None when none was due."""
        if self._due is None:
            return None
        at, misses = self._due
        self._due = None
        self._calibration, self._fitted = _fitted(misses), at
        return at, self._calibration

    def hand_over_due(self) -> tuple[int, tuple] | None:
        """The fit due, (fixed point, misses then), taken out of this learner (a copy on
        its way to another process: the misses travel apart, `set_due` puts them back)."""
        due, self._due = self._due, None
        return due

    def set_due(self, at: int, misses: tuple) -> None:
        """What `hand_over_due` took out."""
        self._due = (at, misses)

    def take_fit(self, at: int, calibration: Calibration) -> None:
        """The fit of fixed point `at`, made elsewhere from a `copy` (`fit_due`): taken
        unless a later one is here already."""
        if at > self._fitted:
            self._calibration, self._fitted = calibration, at
        if self._due is not None and self._due[0] <= at:
            self._due = None

    def after_recall(self, gone: bool) -> None:
        """A recalled customer came (`gone` False) or did not."""
        self.recalled.append(1 if gone else 0)

    def checked_in(self, offset: float) -> None:
        """A booked customer checked in `offset` s after their booked time (< 0: early)."""
        self.booking_offsets.append(offset)
        self.booking_outcomes.append(0)

    def booking_missed(self) -> None:
        """A booking was not checked in by its time + L (a booking no-show)."""
        self.booking_outcomes.append(1)

    def booking_punctuality(self) -> list[float]:
        """When booked customers check in against their booked time (s, sorted): those
        seen, beside the prior's until MIN_BOOKING_OFFSETS are."""
        seen = list(self.booking_offsets)
        if len(seen) < MIN_BOOKING_OFFSETS:
            seen += PRIOR_BOOKING_OFFSETS_S
        return sorted(seen)

    def booking_no_show_rate(self) -> float:
        """The share of bookings not checked in (the prior's 1 in BOOKING_PRIOR_WEIGHT
        counted beside those seen until MIN_BOOKING_OUTCOMES are)."""
        outcomes = self.booking_outcomes
        if len(outcomes) >= MIN_BOOKING_OUTCOMES:
            return sum(outcomes) / len(outcomes)
        return (sum(outcomes) + 1) / (len(outcomes) + BOOKING_PRIOR_WEIGHT)

    def gone_after_recall(self) -> float:
        """The share of recalled customers who turned out to have gone (half, as if two had
        been seen one each way, until more are)."""
        return (sum(self.recalled) + 1) / (len(self.recalled) + 2)

    def calibration(self, ahead: int = 0, mean: float = 0.0) -> tuple[float, float]:
        """(a, b) for an estimate with `ahead` people ahead and mean `mean` s: a model
        interval [low, high] becomes [low·e^-a, high·e^b], so that about MISS_SHARE of the
        waits seen in its group fall below it and as many above, or, below 30 minutes,
        2·MISS_SHARE split where the interval is narrowest (a, b > 0: the model was
        too narrow; < 0: too wide). From the shipped prior until the branch's own
        customers outweigh it (`calibration.Calibration`); both stretched by the group's
        drift (`calibration.drifted`)."""
        group = stratum(ahead, mean)
        a, b = self._calibration.of(group)
        drift = self.drift.get(group, 0.0)
        return a + drift, b + drift

    def paused_for(self, seconds: float) -> None:
        """A counter was paused this long."""
        self.pauses.append(max(0.0, seconds))

    def reacted(self, seconds: float, free: int = 1) -> None:
        """Staff took this long to call a customer who came when `free` counters that
        serve them were free (the first of that many staff to call)."""
        self.reactions.append(max(0.0, seconds))
        self.reaction_free.append(max(1, free))

    def turned_around(self, seconds: float) -> None:
        """Staff took this long between finishing one customer and calling the next."""
        self.turnarounds.append(max(0.0, seconds))

    # ----- queries -------------------------------------------------------------------

    def reaction_times(self) -> list[float]:
        """Observed delays before a free counter calls a newcomer (beside the shipped
        PRIOR_REACTIONS_S until MIN_REACTIONS are seen)."""
        seen = list(self.reactions)
        return seen if len(seen) >= MIN_REACTIONS else seen + list(PRIOR_REACTIONS_S)

    def first_reaction_times(self, free: int) -> list[float]:
        """How long the first of `free` free counters' staff takes to call a newcomer, as
        sorted quantiles (`first_of`): each reaction seen is the first of the
        counters free then, so one staff's reaction is learned from all of them, and the
        first of `free` is the least of that many (staff react apart). The shipped
        PRIOR_REACTIONS_S (one staff's) count beside them until MIN_REACTIONS are seen."""
        seen = list(zip(self.reactions, self.reaction_free, strict=False))
        if len(seen) < MIN_REACTIONS:
            seen += [(r, 1) for r in PRIOR_REACTIONS_S]
        return first_of(seen, free)

    def turnaround_times(self) -> list[float]:
        """Observed times from a finish to the next call with someone waiting ([] until a
        few are seen: then a counter is taken to call again at once)."""
        return list(self.turnarounds) if len(self.turnarounds) >= MIN_REACTIONS else []

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

    def counter_factor(self, counter: str, service: str) -> float:
        """How long `counter` takes on a customer of `service`, relative to the service's
        mean occupancy (1.3: 30% longer); 1 until known (see `_fit_speeds`)."""
        own = self._speeds.get(counter)
        if own is None:
            return 1.0
        return own.get(service, own[GENERAL])

    def _fit_speeds(self) -> None:
        """Each counter's speed, by empirical Bayes: a counter's mean time relative to its
        services' means is shrunk toward 1 by how much of its spread from 1 chance alone
        would explain (the sampling variance of its mean, against the spread between
        counters beyond chance). So counters that are really alike all come out at 1,
        and one with little data counts as average. Its speed at one service is shrunk
        the same way toward its speed over all its services."""
        means, spreads = {}, {}
        for sid, learning in self.services.items():
            window = learning.occupancy
            if len(window) >= PRIOR_WEIGHT:
                mean = sum(window) / len(window)
                if mean > 0:
                    means[sid] = mean
                    spreads[sid] = sum((x / mean - 1) ** 2 for x in window) / len(window)
        general: dict[str, tuple[float, float]] = {}  # counter -> (relative mean, its variance)
        for cid, own in self.counters.items():
            seen = sum(len(w) for s, w in own.items() if s in means)
            if seen >= MIN_SPEED_DATA:
                relative = sum(sum(w) / means[s] for s, w in own.items() if s in means) / seen
                noise = sum(len(w) * spreads[s] for s, w in own.items() if s in means) / seen**2
                general[cid] = (relative, noise)
        between = _beyond_chance([(r - 1, v) for r, v in general.values()])
        speeds: dict[str, dict[str, float]] = {}
        skills = []
        for cid, (relative, noise) in general.items():
            speed = 1 + (relative - 1) * _weight(between, noise)
            speeds[cid] = {GENERAL: speed}
            for sid, window in self.counters[cid].items():
                if sid in means and window:
                    own = sum(window) / len(window) / means[sid]
                    skills.append((cid, sid, speed, own, spreads[sid] / len(window)))
        skill = _beyond_chance([(own - speed, v) for _, _, speed, own, v in skills])
        for cid, sid, speed, own, noise in skills:
            speeds[cid][sid] = speed + (own - speed) * _weight(skill, noise)
        self._speeds = speeds

    def occupancy_counters(self, service: str) -> deque:
        """Which counter each of `occupancies(service)` was at (None where not known)."""
        return self._of(service).occupancy_counters

    def mean_no_show_occupancy(self, service: str) -> float:
        """How long a counter waits for a customer who does not come."""
        window = self._of(service).no_show_occupancy
        return sum(window) / len(window) if window else 0.0

    def occupancies(self, service: str) -> deque:
        """The recent occupancies (seconds a counter was taken) of `service`."""
        return self._of(service).occupancy

    def arrival_rate(self, service: str, priority: str, now: float) -> float:
        """Arrivals per second of `priority` at `service` over the last hour."""
        times = self._of(service).arrivals.get(priority, ())
        recent = sum(1 for t in times if t >= now - ARRIVAL_WINDOW_S)
        return recent / ARRIVAL_WINDOW_S

    def expected_rate(
        self, service: str, priority: str, now: float, second: float | None, span: float
    ) -> float:
        """Arrivals per second of `priority` at `service` expected over the next `span`
        seconds (at most PROFILE_SPAN_S), `second` (from the business day's start) being
        now: the profile of the days before over that stretch of the day, scaled by how
        today's last hour compares with theirs; the last hour's rate until a day is in
        the profile (or without `second`). The first stretch of `expected_rates`."""
        span = min(PROFILE_SPAN_S, max(PROFILE_SLOT_S, span))
        return self.expected_rates(service, priority, now, second, span)[0][1]

    def _level(self, service: str, now: float, second: float) -> tuple[float, float]:
        """Today's arrivals at `service` over the last hour and the profile's over the same
        hour, each with LEVEL_PRIOR more: their ratio is how busy today is."""
        own = self.profile.get(service, {})
        seen = sum(self.arrival_rate(service, p, now) for p in own) * ARRIVAL_WINDOW_S
        usual = sum(_over(c, second - ARRIVAL_WINDOW_S, ARRIVAL_WINDOW_S) for c in own.values())
        return seen + LEVEL_PRIOR, usual / self.profile_days + LEVEL_PRIOR

    def expected_rates(
        self, service: str, priority: str, now: float, second: float | None, until: float
    ) -> list[tuple[float, float]]:
        """`expected_rate` hour by hour up to `until` seconds from now: (end of the stretch,
        in seconds from now, arrivals per second in it), in order. A wait of hours sees
        the day's later hours, not its next one carried on (issue 22: after the afternoon
        peak, a line served by a counter that serves another line first was taken as
        slower than it is); the last hour's rate, carried on, until a day is profiled."""
        counts = self.profile.get(service, {}).get(priority)
        if second is None or self.profile_days <= 0 or counts is None:
            return [(until, self.arrival_rate(service, priority, now))]
        seen, usual = self._level(service, now, second)  # (once: it sums the last hour)
        stretches, start = [], 0.0
        while start < until and len(stretches) < PROFILE_STRETCHES:
            end = min(until, start + PROFILE_SPAN_S)
            span = min(PROFILE_SPAN_S, max(PROFILE_SLOT_S, end - start))
            ahead = _over(counts, second + start, span) / self.profile_days / span
            stretches.append((end, ahead * seen / usual))
            start = end
        if start < until:  # (without a cut-off) the last stretch goes on
            stretches[-1] = (until, stretches[-1][1])
        return stretches

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
                x.occupancy_counters.copy(),
                x.no_show_occupancy.copy(),
                x.outcomes.copy(),
                {p: t.copy() for p, t in x.arrivals.items()},
            )
            for s, x in self.services.items()
        }
        other._theta, other._seen = dict(self._theta), dict(self._seen)
        other.pauses, other.reactions = self.pauses.copy(), self.reactions.copy()
        other.reaction_free = self.reaction_free.copy()
        other.turnarounds = self.turnarounds.copy()
        # The misses stay here: a copy estimates, it folds nothing; what it needs of them is
        # a fit due (made by `fit_due` there, given back by `take_fit`). Not pickling 10,000
        # of them with every copy saves the server's estimates thread ~2 ms of the GIL.
        other._calibration, other._due, other._fitted = self._calibration, self._due, self._fitted
        other.drift = dict(self.drift)
        other.recalled = self.recalled.copy()
        other.booking_offsets = self.booking_offsets.copy()
        other.booking_outcomes = self.booking_outcomes.copy()
        other.profile = {s: {p: list(c) for p, c in own.items()} for s, own in self.profile.items()}
        other.today = {s: {p: list(c) for p, c in own.items()} for s, own in self.today.items()}
        other.profile_days, other.profile_day = self.profile_days, self.profile_day
        other._judged = self._judged
        other.counters = {
            c: {s: w.copy() for s, w in own.items()} for c, own in self.counters.items()
        }
        other._speeds = {c: dict(own) for c, own in self._speeds.items()}
        other._served = self._served
        return other

    # ----- snapshots -----------------------------------------------------------------

    def _fit_for_snapshot(self) -> Calibration:
        """The fit of the last fixed point, made here if it is still due: a snapshot holds
        what a replay of the same events would (rare: once a snapshot)."""
        self.fit_due()
        return self._calibration

    def to_dict(self) -> dict:
        """What was learned, for a snapshot."""
        return {
            "pauses": list(self.pauses),
            "reactions": list(self.reactions),
            "reaction_free": list(self.reaction_free),
            "turnarounds": list(self.turnarounds),
            "misses": [list(m) for m in self.misses],
            "recalled": list(self.recalled),
            "booking_offsets": list(self.booking_offsets),
            "booking_outcomes": list(self.booking_outcomes),
            "calibration": self._fit_for_snapshot().to_dict(),
            "drift": dict(self.drift),
            "judged": self._judged,
            "counters": {
                c: {s: list(w) for s, w in own.items()} for c, own in self.counters.items()
            },
            "speeds": {c: dict(own) for c, own in self._speeds.items()},
            "served": self._served,
            "arrival_profile": {
                "days": self.profile_days,
                "day": self.profile_day,
                "before": self.profile,
                "today": self.today,
            },
            "services": {
                s: {
                    "occupancy": list(x.occupancy),
                    "occupancy_counters": list(x.occupancy_counters),
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
        """What a `to_dict` says was learned."""
        learner = cls(services, priors)
        learner.pauses.extend(d["pauses"])
        learner.reactions.extend(d["reactions"])
        free = list(d.get("reaction_free", []))  # older snapshots: taken as one free counter
        learner.reaction_free.extend([1] * (len(d["reactions"]) - len(free)) + free)
        learner.turnarounds.extend(d.get("turnarounds", []))
        learner.misses.extend(tuple(m) for m in d.get("misses", []))  # (older: no stratum)
        learner.recalled.extend(d.get("recalled", []))
        learner.booking_offsets.extend(d.get("booking_offsets", []))
        learner.booking_outcomes.extend(d.get("booking_outcomes", []))
        learner._calibration = Calibration.from_dict(d.get("calibration"))
        learner.drift = {g: float(x) for g, x in d.get("drift", {}).items()}
        learner._judged = d.get("judged", 0)
        learner._fitted = learner._judged - learner._judged % CALIBRATION_EVERY
        for c, own in d.get("counters", {}).items():
            learner.counters[c] = {s: deque(w, maxlen=COUNTER_WINDOW) for s, w in own.items()}
        learner._speeds = {c: dict(own) for c, own in d.get("speeds", {}).items()}
        learner._served = d.get("served", 0)
        profile = d.get("arrival_profile", {})  # older snapshots: none yet
        learner.profile_days, learner.profile_day = profile.get("days", 0.0), profile.get("day")
        for mine, theirs in ((learner.profile, "before"), (learner.today, "today")):
            for s, own in profile.get(theirs, {}).items():
                mine[s] = {p: list(c) for p, c in own.items()}
        for s, x in d["services"].items():
            learning = learner._of(s)
            learning.occupancy.extend(x["occupancy"])
            learning.occupancy_counters.extend(
                x.get("occupancy_counters", [None] * len(x["occupancy"]))
            )
            learning.no_show_occupancy.extend(x["no_show_occupancy"])
            learning.outcomes.extend(tuple(o) for o in x["outcomes"])
            learning.arrivals = {p: deque(t) for p, t in x["arrivals"].items()}
            learner._seen[s] = x["seen"]
            if x["theta"] is not None:
                learner._theta[s] = x["theta"]
        return learner


_PRIOR_ONLY: list = [None, None]  # (calibration.PRIOR, its fit): a new learner's factors


def day_clock(timezone: str, starts: time, at: float) -> tuple[str, float]:
    """(business day, seconds since it started) of `at`: the day rolls at `starts`, local
    time in `timezone` (as `BranchRules.business_day`)."""
    local = datetime.fromtimestamp(at, ZoneInfo(timezone))
    since = local - timedelta(hours=starts.hour, minutes=starts.minute)
    second = since.hour * 3600 + since.minute * 60 + since.second + since.microsecond / 1e6
    return since.date().isoformat(), second


def _over(counts: list[float], start: float, span: float) -> float:
    """Arrivals in `counts` (per PROFILE_SLOT_S of the day) from `start` for `span` seconds
    of the day (slots cut in part count in part; outside the day, none)."""
    total = 0.0
    end = min(start + span, PROFILE_SLOTS * PROFILE_SLOT_S)
    t = max(0.0, start)
    while t < end:
        slot = int(t // PROFILE_SLOT_S)
        upto = min(end, (slot + 1) * PROFILE_SLOT_S)
        total += counts[slot] * (upto - t) / PROFILE_SLOT_S
        t = upto
    return total


def _prior_only() -> Calibration:
    """`Calibration.prior_only()`, fitted once per prior (a copy of the learner for every
    estimate made it again: ~0.1 ms on the apply loop). A Calibration is never changed."""
    if _PRIOR_ONLY[0] is not calibration.PRIOR:
        _PRIOR_ONLY[:] = [calibration.PRIOR, Calibration.prior_only()]
    return _PRIOR_ONLY[1]


def _fitted(misses) -> Calibration:
    """The calibration from the misses kept at a fixed point: those of the last
    CALIBRATION_DAYS business days, with the shipped prior until there are that many."""
    days = list(dict.fromkeys(m[0] for m in misses))[-CALIBRATION_DAYS:]
    recent = [m for m in misses if m[0] in days and len(m) > 3]
    # The shipped prior counts until the branch has whole days of its own.
    return Calibration.fit(recent, MISS_SHARE, len(days) < CALIBRATION_DAYS)


def _beyond_chance(deviations: list[tuple[float, float]]) -> float:
    """The variance between units beyond what chance explains, from (deviation, its
    sampling variance) pairs (method of moments; 0 when chance explains it all)."""
    if len(deviations) < 2:
        return 0.0
    return max(0.0, sum(d * d - v for d, v in deviations) / len(deviations))


def _weight(between: float, noise: float) -> float:
    """How much of a unit's own deviation to keep: between / (between + noise)."""
    return between / (between + noise) if between > 0 else 0.0


def _upper_quantile(values: list[float], share: float) -> float:
    """The value that `share` of `values` exceed."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int((1 - share) * len(ordered)))]


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


def first_of(seen: list[tuple[float, int]], free: int) -> list[float]:
    """The first of `free` staff's reactions, as len(seen) sorted quantiles, from `seen`:
    (seconds, counters free) pairs, each the first of that many staff to call. One staff's
    reaction is their product-limit (Kaplan-Meier) estimate: a pair is one staff reacting
    after that long and the others not yet (censored there); the first of `free` staff
    reacting apart is past t with that chance to the power `free`. Where the seen run out
    (the longest seen reaction), the rest is put at it."""
    if not seen:
        return []
    events: dict[float, int] = {}
    at_risk: dict[float, int] = {}
    for seconds, counters in seen:
        events[seconds] = events.get(seconds, 0) + 1
        at_risk[seconds] = at_risk.get(seconds, 0) + max(1, counters)
    risk = sum(at_risk.values())
    steps: list[tuple[float, float]] = []  # (t, one staff's chance to react by t)
    survive = 1.0
    for t in sorted(events):
        survive *= 1 - events[t] / risk
        risk -= at_risk[t]
        steps.append((t, 1 - survive))
    n, k = len(seen), max(1, free)
    out = []
    for i in range(n):
        p = 1 - (1 - (i + 0.5) / n) ** (1 / k)  # one staff's quantile for the first of k's
        out.append(next((t for t, f in steps if f >= p), steps[-1][0]))
    return out
