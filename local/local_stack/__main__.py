"""`python -m local_stack` (what `make demo` runs): start the stack, walk through both tenants, keep serving."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from local_stack.stack import LocalStack, Ports, notify_ready
from sam_local.template import REPO_ROOT


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m local_stack",
        description="Run tableau-token-broker locally: embedded AWS, local HTTP API, Tableau emulator, demo page.",
    )
    defaults = Ports()
    parser.add_argument("--free-ports", action="store_true", help="use any free ports (tests, parallel stacks)")
    parser.add_argument("--moto-port", type=int, default=defaults.moto)
    parser.add_argument("--api-port", type=int, default=defaults.api)
    parser.add_argument("--tableau-port", type=int, default=defaults.tableau)
    parser.add_argument("--demo-port", type=int, default=defaults.demo)
    parser.add_argument("--no-walkthrough", action="store_true", help="start and serve without the walkthrough")
    parser.add_argument("--state-file", type=Path, default=REPO_ROOT / ".local" / "stack.json")
    parser.add_argument("--log-file", type=Path, default=REPO_ROOT / ".local" / "broker.log")
    parser.add_argument(
        "--allow-origin", action="append", default=[], metavar="ORIGIN", help="extra CORS origin (your own SPA)"
    )
    parser.add_argument(
        "--ready-fd",
        type=int,
        metavar="FD",
        help="write 'ready' to this inherited file descriptor (a pipe) once the stack serves, then close it",
    )
    parser.add_argument(
        "--issuer-type",
        choices=["ORIGINAL", "UPDATED"],
        default="ORIGINAL",
        help="the emulated pool's IssuerConfiguration (the template's UserPoolIssuerType)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ports = Ports.free() if args.free_ports else Ports(args.moto_port, args.api_port, args.tableau_port, args.demo_port)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    started = time.monotonic()
    stack = LocalStack(
        ports,
        state_file=args.state_file,
        log_file=args.log_file,
        extra_origins=tuple(args.allow_origin),
        issuer_type=args.issuer_type,
    )
    try:
        info = stack.start()
    except OSError as exc:
        stack.stop()
        print(f"local stack: could not start ({exc}). Is a port in use? Try --free-ports.", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - one clear line instead of a traceback
        stack.stop()
        print(f"local stack: could not start: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    from local_stack.walkthrough import print_summary, run_walkthrough

    print_summary(info, time.monotonic() - started, args.state_file)
    try:
        if not args.no_walkthrough:
            ok = run_walkthrough(info)
            if not ok:
                print("walkthrough: an expectation failed (see above)", file=sys.stderr)
        print("\nServing until Ctrl-C.", flush=True)
        if args.ready_fd is not None:
            notify_ready(args.ready_fd)
        stop.wait()
    finally:
        stack.stop()
        print("local stack stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
