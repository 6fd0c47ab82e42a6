"""Token-path benchmark: what the broker adds on top of signing, measured against a baseline in the same run.

  baseline   PyJWT's HS256 ``encode`` of a comparable payload (the irreducible cost)
  mint       ``mint_token`` (claim rules, attribute checks, fresh jti)
  handler    the whole warm Lambda handler for an HTTP API event: claims checks, entitlement parse,
             scopes, cached secret, minting, response, structured log line, metrics flush. DynamoDB is an
             in-memory stand-in so the number is our code, not the network.
  cold       a fresh interpreter: import the handler module and serve the first request (subprocess)

Prints p50/p95 in microseconds and the handler's overhead as a multiple of the baseline. Run: ``make bench``.
"""

from __future__ import annotations

import io
import json
import logging
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

ITERATIONS = int(os.environ.get("BENCH_ITERATIONS", "3000"))
SECRET_VALUE = "b" * 44
ENV = {
    "COGNITO_USER_POOL_ID": "us-east-1_Bench",
    "COGNITO_APP_CLIENT_IDS": "bench-client",
    "ENTITLEMENTS_TABLE": "bench",
    "CONNECTED_APP_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:bench",
    "POWERTOOLS_SERVICE_NAME": "tableau-token-broker",
    "POWERTOOLS_METRICS_NAMESPACE": "Bench",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
}


def timed(label: str, fn: Callable[[], Any], iterations: int = ITERATIONS) -> list[float]:
    for _ in range(min(200, iterations)):
        fn()
    samples = []
    for _ in range(iterations):
        start = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - start) / 1000)
    samples.sort()
    p50, p95 = statistics.median(samples), samples[int(len(samples) * 0.95)]
    print(f"{label:<10} p50 {p50:8.1f} µs   p95 {p95:8.1f} µs   ({iterations} runs)")
    return samples


class MemoryDynamoDB:
    def __init__(self, items: dict[str, dict[str, Any]]) -> None:
        self.items = items

    def get_item(self, *, TableName: str, Key: dict[str, Any], ConsistentRead: bool) -> dict[str, Any]:
        item = self.items.get(Key["pk"]["S"])
        return {"Item": item} if item else {}


class MemorySecretsManager:
    def get_secret_value(self, **_: Any) -> dict[str, Any]:
        return {"SecretString": json.dumps({"client_id": "c", "secret_id": "s", "secret_value": SECRET_VALUE})}


def event() -> dict[str, Any]:
    claims = {
        "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Bench",
        "aud": "bench-client",
        "token_use": "id",
        "sub": "sub-1",
        "exp": str(int(time.time()) + 3600),
    }
    return {
        "version": "2.0",
        "requestContext": {"http": {"method": "POST"}, "requestId": "r", "authorizer": {"jwt": {"claims": claims}}},
        "body": "",
    }


def cold_start_ms() -> float:
    code = (
        "import time,sys; t=time.perf_counter();"
        "sys.path[:0]=['layers/shared','functions/token_broker'];"
        "import token_broker.handler as h; print((time.perf_counter()-t)*1000)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **ENV}, capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    os.environ.update(ENV)
    import jwt

    from tableau_broker.signing_secret import ConnectedAppSecret
    from tableau_broker.tableau_jwt import mint_token
    from token_broker import handler, service
    from token_broker.handler import Runtime

    secret = ConnectedAppSecret("c", "s", SECRET_VALUE)
    payload = {"iss": "c", "sub": "alice", "aud": "tableau", "exp": 2_000_000_000, "iat": 1, "nbf": 1,
               "jti": "x", "scp": ["tableau:views:embed"], "tenant": "acme"}  # fmt: skip

    baseline = timed("baseline", lambda: jwt.encode(payload, SECRET_VALUE, algorithm="HS256", headers={"kid": "s"}))
    timed(
        "mint",
        lambda: mint_token(
            secret, username="alice", scopes=["tableau:views:embed"], attributes={"tenant": "acme"},
            lifetime_seconds=300, now=time.time(),
        ),
    )  # fmt: skip

    from tableau_broker.config import get_settings
    from tableau_broker.entitlements import EntitlementStore
    from tableau_broker.identity import JwksVerifier
    from tableau_broker.signing_secret import SecretCache

    settings = get_settings()
    store = EntitlementStore(
        MemoryDynamoDB(  # type: ignore[arg-type]
            {
                "USER#sub-1": {"tableau_username": {"S": "alice"}, "tenant_id": {"S": "acme"},
                               "enabled": {"BOOL": True}},
                "TENANT#acme": {"enabled": {"BOOL": True}, "tableau_url": {"S": "https://t.example"},
                                "site": {"S": "s"}, "scopes": {"L": [{"S": "tableau:views:embed"}]}},
            }
        ),
        settings.entitlements_table,
    )  # fmt: skip
    cache = SecretCache(300)
    svc = service.TokenService(settings, store, MemorySecretsManager(), cache, time.time)  # type: ignore[arg-type]
    rt = Runtime(settings, JwksVerifier(settings.cognito), svc, cache, time.time)
    handler.runtime.cache_clear()
    handler.runtime = lambda: rt  # type: ignore[assignment]
    logging.getLogger("tableau-token-broker").handlers[0].stream = io.StringIO()  # type: ignore[attr-defined]

    class Context:
        function_name = "bench"
        memory_limit_in_mb = 512
        invoked_function_arn = "arn:aws:lambda:us-east-1:1:function:bench"
        aws_request_id = "r"

    sink = io.StringIO()
    ev = event()

    def call() -> None:
        stdout, sys.stdout = sys.stdout, sink  # the EMF metrics line is printed
        try:
            assert handler.lambda_handler(ev, Context())["statusCode"] == 200  # type: ignore[arg-type]
        finally:
            sys.stdout = stdout
            sink.seek(0)
            sink.truncate()

    full = timed("handler", call)
    tracemalloc.start()
    call()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    ratio = statistics.median(full) / statistics.median(baseline)
    print(f"handler overhead: {ratio:.1f}x the bare HS256 encode; peak allocation per request {peak / 1024:.0f} KiB")
    print(f"cold start (import handler in a fresh interpreter): {cold_start_ms():.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
