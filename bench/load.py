"""Load generator for the running local stack: a separate process that only speaks HTTP to 127.0.0.1.

Reads the stack's contract file (``.local/stack.json``), signs every entitled demo user in against the emulated
Cognito pool, then sends ``POST /token`` for each of them at a fixed rate for a fixed time (open loop: request
``k`` of a caller is due at ``start + k / rate`` whatever the previous answers took). Each returned Tableau JWT
is decoded without verification and its ``sub`` and tenant claim are compared with the caller's own.

Writes one JSON document of counts and latencies to ``--out``. The number of requests is fixed before the first
one is sent, and the run ends ``--request-timeout`` + 5 s after the last one is due, whatever the server does.

    python bench/load.py --stack .local/stack.json --rate 5 --duration 10 --out load.json
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import math
import sys
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import requests
from botocore import UNSIGNED
from botocore.config import Config

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Caller:
    username: str
    tenant: str
    tableau_username: str
    bearer: str


@dataclass(frozen=True)
class Outcome:
    caller: int
    due: float
    sent: float
    done: float
    status: int | None  # None: no HTTP answer (refused, reset, timed out)
    cross_tenant: bool
    bad_body: bool


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python bench/load.py", description="POST /token load on the local stack.")
    parser.add_argument("--stack", type=Path, required=True, help="the stack's contract file (stack.json)")
    parser.add_argument("--out", type=Path, required=True, help="where to write the JSON results")
    parser.add_argument("--rate", type=float, required=True, help="requests per second for EACH caller")
    parser.add_argument("--duration", type=float, required=True, help="seconds of traffic")
    parser.add_argument("--tenant-claim", default="tenant", help="name of the tenant claim in the Tableau JWT")
    parser.add_argument("--workers", type=int, default=32, help="concurrent connections at most")
    parser.add_argument("--request-timeout", type=float, default=10.0)
    parser.add_argument(
        "--no-warmup", dest="warmup", action="store_false", help="count the first (cold) requests in the run"
    )
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.duration <= 0 or args.workers <= 0 or args.request_timeout <= 0:
        parser.error("--rate, --duration, --workers and --request-timeout must be positive")
    return args


def require_loopback(url: str) -> str:
    if urlsplit(url).hostname != LOOPBACK:
        raise SystemExit(f"refusing to send load anywhere but {LOOPBACK}: {url}")
    return url


def sign_in_callers(stack: dict[str, Any]) -> list[Caller]:
    cognito = boto3.session.Session().client(
        "cognito-idp",
        region_name=stack["region"],
        endpoint_url=require_loopback(stack["aws_endpoint_url"]),
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}),
    )
    callers = []
    for user in stack["users"]:
        if not user.get("entitled"):
            continue
        result = cognito.initiate_auth(
            ClientId=stack["app_client_id"],
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": user["username"], "PASSWORD": user["password"]},
        )["AuthenticationResult"]
        callers.append(Caller(user["username"], user["tenant"], user["tableau_username"], result["IdToken"]))
    if len({c.tenant for c in callers}) < 2:
        raise SystemExit("the stack has fewer than two entitled tenants: nothing to compare")
    return callers


def jwt_payload(token: str) -> dict[str, Any] | None:
    """The payload of a compact JWS, unverified; None when it is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


def judge_body(caller: Caller, response: requests.Response, tenant_claim: str) -> tuple[bool, bool]:
    """(cross_tenant, bad_body) of a 200: the token must name this caller's Tableau user and tenant."""
    try:
        token = response.json()["token"]
    except (ValueError, KeyError, TypeError):
        return False, True
    payload = jwt_payload(token) if isinstance(token, str) else None
    if payload is None or "sub" not in payload or tenant_claim not in payload:
        return False, True
    foreign = payload["sub"] != caller.tableau_username or payload[tenant_claim] != caller.tenant
    return foreign, False


def schedule(callers: int, rate: float, duration: float) -> list[tuple[float, int]]:
    """(due offset, caller) pairs, interleaved so the callers' requests do not arrive in lockstep."""
    per_caller = max(1, math.floor(rate * duration))
    slots = [((k + j / callers) / rate, j) for j in range(callers) for k in range(per_caller)]
    return sorted(slots)


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of an ascending list; None for no values."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def run(args: argparse.Namespace) -> dict[str, Any]:
    stack: dict[str, Any] = json.loads(args.stack.read_text(encoding="utf-8"))
    api_url = require_loopback(stack["api_url"])
    origin = stack.get("demo_url")
    callers = sign_in_callers(stack)
    plan = schedule(len(callers), args.rate, args.duration)
    local = threading.local()

    def session() -> requests.Session:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        current: requests.Session = local.session
        return current

    def send(index: int, due: float) -> Outcome:
        caller = callers[index]
        headers = {"Authorization": f"Bearer {caller.bearer}"}
        if origin:
            headers["Origin"] = origin
        sent = time.monotonic()
        try:
            response = session().post(api_url, headers=headers, json={}, timeout=args.request_timeout)
        except requests.RequestException:
            return Outcome(index, due, sent, time.monotonic(), None, False, False)
        done = time.monotonic()
        cross, bad = judge_body(caller, response, args.tenant_claim) if response.status_code == 200 else (False, False)
        return Outcome(index, due, sent, done, response.status_code, cross, bad)

    # One request per caller first: the broker's first request builds its clients and fetches the key set
    # (a cold start), which is reported apart instead of landing in the steady-state percentiles.
    warmup = [send(index, time.monotonic()) for index in range(len(callers))] if args.warmup else []
    executor = ThreadPoolExecutor(max_workers=args.workers, thread_name_prefix="load")
    futures: list[Future[Outcome]] = []
    start = time.monotonic()
    try:
        for offset, index in plan:
            due = start + offset
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # pacing the open-loop schedule, not waiting for anything
            futures.append(executor.submit(send, index, due))
        last_due = start + plan[-1][0]
        hard_stop = last_due + args.request_timeout + 5
        wait(futures, timeout=max(0.0, hard_stop - time.monotonic()))
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
    outcomes = [f.result() for f in futures if f.done() and not f.cancelled()]
    results = summarise(args, callers, plan, outcomes, start)
    results["warmup"] = [
        {"tenant": callers[o.caller].tenant, "status": o.status, "ms": round((o.done - o.sent) * 1000, 2)}
        for o in warmup
    ]
    return results


def summarise(
    args: argparse.Namespace,
    callers: list[Caller],
    plan: list[tuple[float, int]],
    outcomes: list[Outcome],
    start: float,
) -> dict[str, Any]:
    statuses = Counter(str(o.status) if o.status is not None else "no_response" for o in outcomes)
    ok_latencies = sorted((o.done - o.sent) * 1000 for o in outcomes if o.status == 200)
    all_latencies = sorted((o.done - o.sent) * 1000 for o in outcomes)
    first_sent = min((o.sent for o in outcomes), default=start)
    last_done = max((o.done for o in outcomes), default=start)
    lags = [(o.sent - o.due) * 1000 for o in outcomes]

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value, 2)

    ok = statuses.get("200", 0)
    return {
        "planned": len(plan),
        "requests": len(outcomes),
        "unfinished": len(plan) - len(outcomes),
        "callers": [{"username": c.username, "tenant": c.tenant} for c in callers],
        "tenants": sorted({c.tenant for c in callers}),
        "rate_per_caller": args.rate,
        "rate": args.rate * len(callers),
        "duration_s": args.duration,
        "window_s": round(last_done - first_sent, 3),
        "achieved_rate": round(len(outcomes) / max(last_done - first_sent, 1e-9), 2),
        "max_send_lag_ms": ms(max(lags, default=0.0)),
        "statuses": dict(sorted(statuses.items())),
        "ok": ok,
        "throttled_429": statuses.get("429", 0),
        "server_5xx": sum(n for code, n in statuses.items() if code.isdigit() and 500 <= int(code) <= 599),
        "no_response": statuses.get("no_response", 0),
        "cross_tenant": sum(o.cross_tenant for o in outcomes),
        "bad_body": sum(o.bad_body for o in outcomes),
        "ok_per_tenant": dict(sorted(Counter(callers[o.caller].tenant for o in outcomes if o.status == 200).items())),
        "p50_ms": ms(percentile(ok_latencies, 0.50)),
        "p99_ms": ms(percentile(ok_latencies, 0.99)),
        "max_ms": ms(ok_latencies[-1] if ok_latencies else None),
        "p50_all_ms": ms(percentile(all_latencies, 0.50)),
        "p99_all_ms": ms(percentile(all_latencies, 0.99)),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
