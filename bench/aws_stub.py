"""A stand-in for in-region AWS on 127.0.0.1: DynamoDB and Secrets Manager over their JSON protocol, each call
delayed server-side by a per-service latency, every call counted at the wire.

boto3 reaches it through ``AWS_ENDPOINT_URL`` (one endpoint for every service; the ``X-Amz-Target`` header names
the service and operation). It answers DynamoDB ``GetItem`` and ``BatchGetItem`` (the item stored under the
request's ``Key``, in DynamoDB's low-level attribute-value form, or ``{}``) and Secrets Manager
``GetSecretValue`` (AWSCURRENT of a stored secret, by ARN or name). Anything else is a 400 with an AWS-shaped
error body (``__type`` and ``message``), counted like every other request.

    python -m bench.aws_stub --dynamodb-ms 4 --secretsmanager-ms 10   # serve until Ctrl-C
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

DYNAMODB = "dynamodb"
SECRETSMANAGER = "secretsmanager"
DEFAULT_LATENCY_MS = {DYNAMODB: 4.0, SECRETSMANAGER: 10.0}
# The X-Amz-Target prefix of each service's JSON protocol (botocore's service models: targetPrefix).
_TARGET_PREFIXES = {"DynamoDB_20120810": DYNAMODB, "secretsmanager": SECRETSMANAGER}
_ERROR_NAMESPACES = {
    DYNAMODB: "com.amazonaws.dynamodb.v20120810#",
    SECRETSMANAGER: "",
}
UNKNOWN = "unknown"


class AwsError(Exception):
    def __init__(self, service: str, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.service, self.code, self.message, self.status = service, code, message, status


def _key_of(key: Mapping[str, Any]) -> str:
    return json.dumps(key, sort_keys=True, separators=(",", ":"))


class AwsStub:
    """The server and its data. ``counts()`` is the wire count: ``{(service, operation): calls}``."""

    def __init__(self, *, dynamodb_ms: float = DEFAULT_LATENCY_MS[DYNAMODB],
                 secretsmanager_ms: float = DEFAULT_LATENCY_MS[SECRETSMANAGER]) -> None:  # fmt: skip
        self._latency = {DYNAMODB: dynamodb_ms / 1000, SECRETSMANAGER: secretsmanager_ms / 1000}
        self._items: dict[str, dict[str, dict[str, Any]]] = {}
        self._key_attributes: dict[str, tuple[str, ...]] = {}
        self._secrets: dict[str, dict[str, Any]] = {}
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _handler_class(self))
        self._thread = threading.Thread(target=self._server.serve_forever, name="aws-stub", daemon=True)

    # --- data ---------------------------------------------------------------------------------------------
    def put_item(self, table: str, item: Mapping[str, Any], key_attributes: tuple[str, ...] = ("pk",)) -> None:
        """``item`` in DynamoDB's low-level form ({"pk": {"S": "..."}, ...})."""
        with self._lock:
            self._key_attributes[table] = key_attributes
            key = {name: item[name] for name in key_attributes}
            self._items.setdefault(table, {})[_key_of(key)] = dict(item)

    def put_secret(self, name: str, secret_string: str, region: str = "us-east-1") -> str:
        """Stores a secret under ``name`` and returns its ARN (either names it in GetSecretValue)."""
        arn = f"arn:aws:secretsmanager:{region}:123456789012:secret:{name}-AbCdEf"
        record = {"ARN": arn, "Name": name, "SecretString": secret_string, "VersionId": str(uuid.uuid4())}
        with self._lock:
            self._secrets[arn] = record
            self._secrets[name] = record
        return arn

    # --- control ------------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def set_latency(self, *, dynamodb_ms: float | None = None, secretsmanager_ms: float | None = None) -> None:
        with self._lock:
            if dynamodb_ms is not None:
                self._latency[DYNAMODB] = dynamodb_ms / 1000
            if secretsmanager_ms is not None:
                self._latency[SECRETSMANAGER] = secretsmanager_ms / 1000

    def counts(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self._counts)

    def reset_counts(self) -> None:
        with self._lock:
            self._counts.clear()

    def start(self) -> AwsStub:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> AwsStub:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- the protocol -------------------------------------------------------------------------------------
    def answer(self, target: str, body: bytes) -> tuple[int, str, dict[str, Any]]:
        """(status, service, JSON body) for one request; counts it and applies the service's latency."""
        prefix, _, operation = target.partition(".")
        service = _TARGET_PREFIXES.get(prefix, UNKNOWN)
        with self._lock:
            self._counts[(service, operation or target or "(no target)")] += 1
            latency = self._latency.get(service, 0.0)
        if latency > 0:
            time.sleep(latency)  # the modelled round trip, server-side: the client waits as it would for AWS
        try:
            request = json.loads(body or b"{}")
            if not isinstance(request, dict):
                raise AwsError(service, "SerializationException", "the request body is not a JSON object")
            return 200, service, self._operation(service, operation, request)
        except AwsError as error:
            return error.status, service, {"__type": _ERROR_NAMESPACES.get(service, "") + error.code,
                                           "message": error.message}  # fmt: skip
        except ValueError:
            return 400, service, {"__type": "SerializationException", "message": "the request body is not JSON"}

    def _operation(self, service: str, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        if service == DYNAMODB and operation == "GetItem":
            item = self._get_item(request.get("TableName"), request.get("Key"))
            return {} if item is None else {"Item": item}
        if service == DYNAMODB and operation == "BatchGetItem":
            found: dict[str, list[dict[str, Any]]] = {}
            for table, spec in (request.get("RequestItems") or {}).items():
                items = [self._get_item(table, key) for key in spec.get("Keys", [])]
                found[table] = [item for item in items if item is not None]
            return {"Responses": found, "UnprocessedKeys": {}}
        if service == SECRETSMANAGER and operation == "GetSecretValue":
            return self._get_secret_value(request)
        raise AwsError(service, "UnknownOperationException", f"the stub does not implement {service} {operation}")

    def _get_item(self, table: object, key: object) -> dict[str, Any] | None:
        with self._lock:
            if not isinstance(table, str) or table not in self._items:
                raise AwsError(DYNAMODB, "ResourceNotFoundException", "Requested resource not found")
            if not isinstance(key, dict) or set(key) != set(self._key_attributes[table]):
                raise AwsError(DYNAMODB, "ValidationException", "The provided key element does not match the schema")
            return self._items[table].get(_key_of(key))

    def _get_secret_value(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            record = self._secrets.get(str(request.get("SecretId")))
        stage = request.get("VersionStage", "AWSCURRENT")
        if record is None or stage != "AWSCURRENT" or request.get("VersionId") not in (None, record["VersionId"]):
            raise AwsError(
                SECRETSMANAGER, "ResourceNotFoundException", "Secrets Manager can't find the specified secret."
            )
        return {**record, "VersionStages": ["AWSCURRENT"], "CreatedDate": 1_700_000_000.0}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False


def _handler_class(stub: AwsStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as boto3's connection pool expects of AWS
        # Headers and body leave in two writes: without TCP_NODELAY, Nagle's algorithm holds the body back until
        # the client's delayed ACK (~40 ms on Linux), which would swamp the latency being modelled.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, service, answer = stub.answer(self.headers.get("X-Amz-Target", ""), body)
            payload = json.dumps(answer).encode()
            self.send_response(status)
            version = "1.0" if service == DYNAMODB else "1.1"
            self.send_header("Content-Type", f"application/x-amz-json-{version}")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self.do_POST()  # counted and refused like any other request it does not implement

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.aws_stub", description=__doc__)
    parser.add_argument("--dynamodb-ms", type=float, default=DEFAULT_LATENCY_MS[DYNAMODB])
    parser.add_argument("--secretsmanager-ms", type=float, default=DEFAULT_LATENCY_MS[SECRETSMANAGER])
    args = parser.parse_args(argv)
    with AwsStub(dynamodb_ms=args.dynamodb_ms, secretsmanager_ms=args.secretsmanager_ms) as stub:
        print(f"AWS stub on {stub.url} (Ctrl-C to stop)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
