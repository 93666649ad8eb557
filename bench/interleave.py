"""What the N:1 interleave costs the apply loop: a line of N waiting (a tenth of a priority
class) fed and called through `Branch.handle`, under the time credit and the interleave
(`[queue] priority_rule`), in thread CPU time per command. The interleave places a line's
priority tickets again at each change of that line (O(line) per change).

    .venv/bin/python bench/interleave.py [--waiting 600] [--commands 2000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from nowserving.domain import Branch, Command  # noqa: E402
from tests.conftest import T0, small_rules  # noqa: E402


def run(rule: str, waiting: int, commands: int) -> float:
    """Microseconds of CPU per command, the line held at about `waiting`."""
    branch = Branch(small_rules(priority_rule=rule, interleave=3))
    at = T0
    for i in range(waiting):
        priority = "priority" if i % 10 == 9 else "normal"
        branch.handle(
            Command(f"w{i}", "issue_ticket", "k", at, {"service": "a", "priority": priority})
        )
        at += 1
    start = time.thread_time()
    for i in range(commands // 3):  # one in, one called and finished: the line stays long
        priority = "priority" if i % 10 == 9 else "normal"
        branch.handle(
            Command(f"n{i}", "issue_ticket", "k", at, {"service": "a", "priority": priority})
        )
        branch.handle(Command(f"c{i}", "call_next", "c", at, {"counter": "c1"}))
        branch.handle(Command(f"f{i}", "finish", "c", at, {"counter": "c1"}))
        at += 1
    return (time.thread_time() - start) / (commands // 3 * 3) * 1e6


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--waiting", type=int, default=600)
    parser.add_argument("--commands", type=int, default=2000)
    args = parser.parse_args()
    for rule in ("credit", "interleave"):
        us = run(rule, args.waiting, args.commands)
        print(f"{rule:10s} {args.waiting} waiting: {us:7.1f} µs CPU per command")


if __name__ == "__main__":
    main()
