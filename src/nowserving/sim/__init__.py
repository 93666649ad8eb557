"""A discrete-event simulator of a branch that drives the real domain (call policy and
estimator), for measuring wait estimates against textbook baselines."""

from nowserving.sim.engine import Customer, simulate
from nowserving.sim.scenarios import SCENARIOS, Scenario, load_scenario

__all__ = ["SCENARIOS", "Customer", "Scenario", "load_scenario", "simulate"]
