"""Commands to try a branch without one: the demo, the simulator, previews of a ticket and
of a spoken call."""

from __future__ import annotations

import argparse
from pathlib import Path

from nowserving.cli.options import branch_option
from nowserving.errors import ConfigError


def _add_demo(commands) -> None:
    parser = commands.add("demo", "run a whole branch on this machine, simulated", _run_demo)
    parser.add_argument("--config", type=Path, help="branch config (default: the example bank)")
    parser.add_argument(
        "--minutes",
        type=float,
        default=60,
        help="simulated minutes of the branch day to run (default: %(default)s)",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=60,
        help="simulated seconds per real second (default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("demo-output"),
        help="where the log and event log go (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=1)


def _run_demo(args: argparse.Namespace) -> int:
    from nowserving.devtools.demo import run_demo as run

    return run(args.config, args.minutes, args.speed, args.out, args.seed)


def _add_simulate(commands) -> None:
    parser = commands.add(
        "simulate", "simulate a branch day and measure wait estimates", _run_simulate
    )
    parser.add_argument(
        "--scenario",
        required=True,
        help="a built-in scenario (`nowserving scenarios` lists them) or a scenario TOML file",
    )
    parser.add_argument("--customers", type=int, help="stop after this many arrivals")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--db", type=Path, help="also write the simulated branch's events to this new event log"
    )


def _run_simulate(args: argparse.Namespace) -> int:
    from nowserving.sim import SCENARIOS, load_scenario, simulate
    from nowserving.sim.metrics import evaluate, format_day, format_report

    if args.scenario in SCENARIOS:
        scenario = SCENARIOS[args.scenario]
    elif Path(args.scenario).exists():
        scenario = load_scenario(args.scenario)
    else:
        raise ConfigError(
            [f"no built-in scenario or file {args.scenario!r}; built-in: {', '.join(SCENARIOS)}"],
            "simulate",
        )
    print(f"{scenario.name}: {scenario.description} (seed {args.seed})", flush=True)
    if args.db is None:
        customers = simulate(scenario, seed=args.seed, customers=args.customers)
    else:
        from nowserving.adapters.store import EventLog

        if args.db.exists():
            raise ConfigError([f"{args.db} exists: give a new file"], "simulate")
        batch: list = []  # one transaction per 10,000 events: a commit each is slow
        with EventLog(args.db, create=True, branch="sim", snapshot_every=10**12) as log:
            customers = simulate(
                scenario, seed=args.seed, customers=args.customers, record=batch.extend
            )
            for i in range(0, len(batch), 10_000):
                log.append(batch[i : i + 10_000])
        print(f"events written to {args.db}")
    print("How the days went (per service):")
    print(format_day(customers))
    print("How good the wait estimates were (customers who waited and were served):")
    print(format_report(evaluate(scenario.name, customers, scenario.abandonment)))
    return 0


def _add_scenarios(commands) -> None:
    commands.add("scenarios", "list the built-in simulation scenarios", _run_scenarios)


def _run_scenarios(args: argparse.Namespace) -> int:
    from nowserving.sim import SCENARIOS

    for name, scenario in SCENARIOS.items():
        print(f"{name:<18} {scenario.description}")
    return 0


def _add_ticket_preview(commands) -> None:
    parser = commands.add(
        "ticket-preview",
        "write a sample ticket as a picture and as the printer's bytes",
        _run_ticket_preview,
    )
    branch_option(parser, required=False)
    parser.add_argument("--language", default="zh")
    parser.add_argument("--paper", type=int, choices=(58, 80), default=80)
    parser.add_argument("--profile", help="python-escpos printer profile (default TM-T88V)")
    parser.add_argument("--png", type=Path, help="write the ticket picture here")
    parser.add_argument("--escpos", type=Path, help="write the exact printer bytes here")


def _run_ticket_preview(args: argparse.Namespace) -> int:
    from nowserving.adapters.printer.preview import write_preview
    from nowserving.config import EXAMPLE, load_config

    config = load_config(args.config or EXAMPLE)
    for line in write_preview(
        config, args.language, args.paper, args.profile, args.png, args.escpos
    ):
        print(line)
    return 0


def _add_announce_preview(commands) -> None:
    parser = commands.add(
        "announce-preview",
        "write the WAV that the lobby display would play for a call",
        _run_announce_preview,
    )
    parser.add_argument("--number", required=True, help="the ticket number, e.g. A012")
    parser.add_argument("--counter", required=True, help="the counter's id, e.g. c3")
    parser.add_argument("--language", required=True, help="the customer's language")
    parser.add_argument("--wav", type=Path, required=True, help="write the WAV here")
    parser.add_argument("--then", help="then say it in this language too")
    parser.add_argument("--recall", action="store_true", help="announce a recall")
    parser.add_argument(
        "--clips", type=Path, help="the clip set (default: make one with espeak-ng)"
    )
    parser.add_argument("--repeat", type=int, choices=range(1, 6), default=1)
    parser.add_argument("--volume", type=int, choices=range(101), default=100, metavar="0-100")
    branch_option(parser, required=False)


def _run_announce_preview(args: argparse.Namespace) -> int:
    from nowserving.config import EXAMPLE, load_config
    from nowserving.display.announce import write_preview

    rules = load_config(args.config or EXAMPLE).rules
    for line in write_preview(
        rules, args.wav, args.number, args.counter, args.language, then=args.then,
        recall=args.recall, clips_dir=args.clips, repeat=args.repeat, volume=args.volume,
    ):  # fmt: skip
        print(line)
    return 0


COMMANDS = (_add_demo, _add_simulate, _add_scenarios, _add_ticket_preview, _add_announce_preview)
