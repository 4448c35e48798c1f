"""`agentfleet sim` and `python -m agentfleet.sim`: run the simulator in the foreground."""

from __future__ import annotations

import argparse
import sys

from agentfleet.config import Settings
from agentfleet.httpserver import serve_until_interrupted
from agentfleet.sim.faults import check_rates
from agentfleet.sim.habits import HABITS, check_habits
from agentfleet.sim.limits import SimLimits
from agentfleet.sim.server import Simulator


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"a rate is between 0 and 1, got {text}")
    return value


def _habits(text: str) -> tuple[str, ...]:
    try:
        return check_habits([h.strip() for h in text.split(",") if h.strip()])
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def build_parser() -> argparse.ArgumentParser:
    """The simulator's options; `agentfleet sim` hands its arguments to the same parser."""
    p = argparse.ArgumentParser(
        prog="agentfleet sim",
        description="Serve the agentfleet Anthropic API simulator (scripted, not Claude).",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument(
        "--port", type=int, default=None, help="default: $AGENTFLEET_SIM_PORT or 8787; 0 = any"
    )
    p.add_argument("--latency-ms", type=float, default=0.0, help="delay added to every answer")
    for status in (429, 529, 500):
        p.add_argument(
            f"--fault-{status}",
            type=_rate,
            default=0.0,
            metavar="RATE",
            help=f"fraction of /v1/messages requests answered with HTTP {status}",
        )
    p.add_argument("--retry-after", type=float, default=1.0, help="seconds sent with a 429")
    p.add_argument(
        "--habit-rate",
        type=_rate,
        default=0.0,
        metavar="RATE",
        help="share of agent and planner conversations that show one bad habit of real models",
    )
    p.add_argument(
        "--habits",
        type=_habits,
        default=HABITS,
        metavar="LIST",
        help=f"comma-separated habits --habit-rate picks from (default all: {','.join(HABITS)})",
    )
    p.add_argument(
        "--cache-min-tokens",
        type=int,
        default=None,
        metavar="N",
        help="shortest prefix the prompt cache stores (default: each model's documented minimum)",
    )
    for flag, what in (("rpm", "requests"), ("itpm", "input tokens"), ("otpm", "output tokens")):
        p.add_argument(
            f"--{flag}",
            type=int,
            default=None,
            metavar="N",
            help=f"rate limit in {what} per minute: 429 with Anthropic's headers beyond it",
        )
    p.add_argument(
        "--burst-s",
        type=float,
        default=60.0,
        help="bucket size in seconds of the rate limits (Anthropic: up to 60)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed for the random faults and habits")
    p.add_argument("--quiet", action="store_true", help="do not log one line per request")
    return p


def banner(sim: Simulator, rates: dict[int, float], args: argparse.Namespace) -> str:
    """The start-up text: it says loudly that this is not Claude, and how it will misbehave."""
    faults = ", ".join(f"{s}={r:g}" for s, r in sorted(rates.items()) if r) or "none"
    habits = f"{args.habit_rate:g} of conversations, from {','.join(args.habits)}"
    habits = habits if args.habit_rate else "only where a [sim:habit=...] directive asks"
    lines = [
        "agentfleet SIMULATOR - this is NOT Claude.",
        f"Anthropic-compatible fake API on {sim.url}",
        "Answers are scripted and deterministic; no API key is used or needed.",
        f"latency {args.latency_ms:g} ms | random faults: {faults} | "
        f"retry-after {args.retry_after:g}s | seed {args.seed}",
        f"habits: {habits}",
        f"rate limits: rpm {args.rpm or '-'} itpm {args.itpm or '-'} otpm {args.otpm or '-'}",
        "admin: POST /_sim/faults  GET /_sim/stats  POST /_sim/reset",
        "Press Ctrl-C to stop.",
    ]
    rule = "=" * max(len(line) for line in lines)
    return "\n".join([rule, *lines, rule])


def main(argv: list[str] | None = None) -> int:
    """Serve until Ctrl-C or SIGTERM; the exit code is 2 for bad options, 1 for a taken port."""
    args = build_parser().parse_args(argv)
    port = Settings.from_env().sim_port if args.port is None else args.port
    rates = {429: args.fault_429, 529: args.fault_529, 500: args.fault_500}
    try:
        check_rates(rates)
        limits = SimLimits(args.rpm, args.itpm, args.otpm, burst_s=args.burst_s)
    except ValueError as e:
        print(f"agentfleet sim: {e}", file=sys.stderr)
        return 2
    sim = _simulator(args, port, rates, limits)
    try:
        sim.start()
    except OSError as e:
        print(f"agentfleet sim: cannot listen on {args.host}:{port}: {e}", file=sys.stderr)
        return 1
    print(banner(sim, rates, args), flush=True)
    serve_until_interrupted(sim.stop)
    print("agentfleet sim: stopped", flush=True)
    return 0


def _simulator(
    args: argparse.Namespace, port: int, rates: dict[int, float], limits: SimLimits
) -> Simulator:
    return Simulator(
        args.host,
        port,
        latency_ms=args.latency_ms,
        fault_rates={s: r for s, r in rates.items() if r},
        retry_after_s=args.retry_after,
        seed=args.seed,
        habit_rate=args.habit_rate,
        habits=args.habits,
        cache_min_tokens=args.cache_min_tokens,
        log=None if args.quiet else lambda line: print(f"[sim] {line}", flush=True),
        rate_limits=limits,
    )
