"""Accuracy of the wait estimates against textbook estimators, per scenario.

    .venv/bin/python bench/estimates.py [--customers 200000] [--seed 1] [scenario ...]

Each scenario is simulated once with the given seed (textbook pools: 2·10⁵ customers;
branch days: 40 days); every estimator is judged on the same customers. Figures are
means with 95% half-widths from 10 contiguous batches. See docs/estimates.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import command_line  # noqa: E402

from nowserving.sim import SCENARIOS, simulate  # noqa: E402
from nowserving.sim.metrics import evaluate, format_report  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, help="per pool scenario (default 200000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("scenarios", nargs="*", default=list(SCENARIOS))
    args = parser.parse_args()
    print(f"$ {command_line()}")
    summary = []
    for name in args.scenarios:
        scenario = SCENARIOS[name]
        started = time.perf_counter()
        customers = simulate(scenario, seed=args.seed, customers=args.customers)
        abandonment = any(s.patience_s is not None for s in scenario.services)
        report = evaluate(name, customers, abandonment)
        print(f"\n{scenario.description} (seed {args.seed}, {time.perf_counter() - started:.0f} s)")
        print(format_report(report), flush=True)
        rmse = {k: v["RMSE"].value for k, v in report.by_estimator.items()}
        best_baseline = min((v, k) for k, v in rmse.items() if k != "ours")
        worst_bias = max(abs(b) for b in report.decile_bias)
        summary.append(
            (
                name,
                report.by_estimator["ours"]["RASE"],
                report.by_estimator[report.oracle]["RASE"],
                report.rase_ratio,
                report.by_estimator["LES"]["RASE"].value,
                report.by_estimator["HOL"]["RASE"].value,
                rmse["ours"],
                best_baseline,
                report.coverage,
                worst_bias,
            )
        )
    print("\nsummary")
    print(
        f"{'scenario':<18} {'RASE ours':>16} {'oracle':>16} {'ours/oracle':>15} "
        f"{'LES':>7} {'HOL':>7} {'RMSE ours':>10} {'best baseline RMSE':>22} "
        f"{'coverage':>15} {'worst tenth bias':>17}"
    )
    for name, ours, oracle, ratio, les, hol, rmse, (best, best_name), cover, bias in summary:
        print(
            f"{name:<18} {ours!s:>16} {oracle!s:>16} {ratio!s:>15} {les:>7.4f} "
            f"{hol:>7.4f} {rmse:>10.4g} {best:>13.4g} ({best_name:<5}) "
            f"{cover.value:>8.1%} ± {cover.half_width:.1%} {bias:>16.0%}"
        )


if __name__ == "__main__":
    main()
