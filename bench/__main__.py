"""`make bench` (``python -m bench``): every measurement in one run, printed and written to BENCHMARKS.md.

    python -m bench                 # the full run (several minutes)
    python -m bench --quick         # small counts (BENCH_QUICK=1 does the same): the tests' mode

Needs the host-architecture build (``sam_local.host_build``, run first; SAM's cache makes reruns quick) and the
Lambda runtime's python3.13 for the cold starts.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from bench import calls, cold, sizes, throughput, warm, world
from bench.aws_stub import DEFAULT_LATENCY_MS, DYNAMODB, SECRETSMANAGER, AwsStub
from bench.report import Results, render
from sam_local.host_build import build_for_host, runtime_python

REPO_ROOT = Path(__file__).resolve().parents[1]
FULL = {"iterations": 500, "overhead_iterations": 5000, "tokens": 1000, "cold_runs": 7, "requests": 2000}
QUICK = {"iterations": 40, "overhead_iterations": 300, "tokens": 300, "cold_runs": 5, "requests": 200}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description="The token broker's benchmark.")
    parser.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK", "") not in ("", "0"),
                        help="small counts for a fast end-to-end run (also BENCH_QUICK=1)")  # fmt: skip
    parser.add_argument("--iterations", type=int, help="warm calls over the network, per path")
    parser.add_argument("--overhead-iterations", type=int, help="warm handler calls without network")
    parser.add_argument("--tokens", type=int, help="tokens in each AWS-call count (reported per 1,000)")
    parser.add_argument("--tenant-ttl", type=int, help="TENANT_CACHE_TTL_SECONDS of the cached run "
                        f"(default: template.yaml's, else {calls.DEFAULT_TENANT_TTL_SECONDS})")  # fmt: skip
    parser.add_argument("--cold-runs", type=int, help="cold starts of each interpreter (at least 5)")
    parser.add_argument("--dynamodb-ms", type=float, default=DEFAULT_LATENCY_MS[DYNAMODB])
    parser.add_argument("--secretsmanager-ms", type=float, default=DEFAULT_LATENCY_MS[SECRETSMANAGER])
    parser.add_argument("--concurrency", type=int, default=8, help="local API workers")
    parser.add_argument("--requests", type=int, help="local API requests")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.cold_runs < 5:
        parser.error("--cold-runs must be at least 5 (the median of fewer says little)")
    if min(args.iterations, args.overhead_iterations, args.tokens, args.requests, args.concurrency) < 1:
        parser.error("counts must be positive")
    return args


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    progress("host build (sam build for this machine's architecture; cached after the first run)")
    build = build_for_host()
    python = runtime_python()
    people = world.users()
    with AwsStub(dynamodb_ms=args.dynamodb_ms, secretsmanager_ms=args.secretsmanager_ms) as stub:
        secret_arn = world.seed(stub, people)
        progress(f"warm path over the network: {args.iterations} calls per path")
        network = warm.network(stub, secret_arn, args.iterations, args.dynamodb_ms, args.secretsmanager_ms, progress)
        progress(f"warm overhead without network: {args.overhead_iterations} calls")
        overhead = warm.overhead(args.overhead_iterations)
        scenarios = calls.run(stub, secret_arn, args.tokens, progress, tenant_ttl=args.tenant_ttl)
        stub.set_latency(dynamodb_ms=args.dynamodb_ms, secretsmanager_ms=args.secretsmanager_ms)
        env = world.broker_environment(secret_arn, stub.url)
        cold_result = cold.run(build, python, env, world.event(people[0], time.time()), args.cold_runs, progress)
    progress("package sizes")
    packages = sizes.run(build)
    local = throughput.run(args.concurrency, args.requests, progress)
    parameters: dict[str, object] = {
        "mode": "quick" if args.quick else "full",
        "modelled latency": f"DynamoDB {args.dynamodb_ms:g} ms, Secrets Manager {args.secretsmanager_ms:g} ms per call",
        "warm calls over the network (per path)": args.iterations,
        "warm calls without network": args.overhead_iterations,
        "tokens per AWS-call count": args.tokens,
        "users / tenants": f"{len(people)} / {len({u.tenant for u in people})}",
        "cold starts (each side)": args.cold_runs,
        "local API": f"{args.requests} requests at concurrency {args.concurrency}",
        "host build": f"{build.architecture}: {build.build_dir.relative_to(REPO_ROOT)}",
    }
    results = Results(parameters, network, overhead, scenarios, cold_result, packages, local)
    text = render(results, cold_result.python_version)
    print(text)
    args.output.write_text(text, encoding="utf-8")
    progress(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
