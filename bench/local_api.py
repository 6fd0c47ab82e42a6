"""`python -m bench.local_api`: the local stack (``python -m local_stack``'s, on free ports, no walkthrough) with
POST /token's route throttling raised, so a throughput run measures the stack rather than the template's
ThrottlingRateLimit (25 requests/s by default, which ``python -m local_stack`` enforces like API Gateway)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from local_stack.stack import LocalStack, Ports, notify_ready


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.local_api", description=__doc__)
    parser.add_argument("--state-file", type=Path, required=True)
    parser.add_argument("--log-file", type=Path, required=True)
    parser.add_argument("--ready-fd", type=int, required=True)
    parser.add_argument("--rate-limit", type=int, default=100_000, help="ThrottlingRateLimit (requests/s)")
    parser.add_argument("--burst-limit", type=int, default=100_000, help="ThrottlingBurstLimit")
    args = parser.parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    limits = {"ThrottlingRateLimit": str(args.rate_limit), "ThrottlingBurstLimit": str(args.burst_limit)}
    stack = LocalStack(Ports.free(), state_file=args.state_file, log_file=args.log_file, parameters=limits)
    try:
        stack.start()
        notify_ready(args.ready_fd)
        stop.wait()
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
