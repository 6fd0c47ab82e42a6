"""``python -m tableau_emulator --port 8765 [--seed FILE.json] [--build-bundle]``."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from types import FrameType

from .bundle import BundleBuildError, ensure_embedding_bundle
from .seed import load_seed_file, seed_demo
from .server import LOOPBACK_HOSTS, serve
from .state import EmulatorState


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tableau_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", choices=sorted(LOOPBACK_HOSTS))
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--seed", help="seed JSON file (default: the built-in demo site, printed at start-up)")
    parser.add_argument("--build-bundle", action="store_true", help="build the Embedding API bundle first")
    args = parser.parse_args(argv)

    state = EmulatorState()
    created = load_seed_file(state, args.seed) if args.seed else seed_demo(state)
    if args.build_bundle:
        try:
            print(f"bundle: {ensure_embedding_bundle()}", file=sys.stderr)
        except BundleBuildError as exc:
            print(f"bundle build failed: {exc}", file=sys.stderr)
            return 1
    server = serve(state, args.host, args.port, log_requests=True)
    # Local development tool: the seeded ids (and generated demo secrets) are printed so you can use them.
    print(json.dumps({"url": server.url, "seeded": created}), flush=True)  # one line: easy to parse

    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    stop.wait()
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
