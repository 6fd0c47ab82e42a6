"""One SnapStart snapshot restored several times, with the built artefacts (run by tests/shipped/test_snapstart.py).

Runs in a fresh python3.13 whose ``sys.path`` is the built function, the layer and the runtime client, as Lambda
lays them out. It does what Lambda does around a snapshot: init (import the handler), one priming invocation (the
worst case: clients, caches and connections exist when the snapshot is taken), awslambdaric's before-snapshot
hooks; then each ``os.fork()`` child is one execution environment resumed from that snapshot: awslambdaric's
after-restore hooks, then invocations.

A fork is kinder than a restore in one way: CPython reseeds the ``random`` module in a forked child, which no
restore does. Each child therefore puts the global generator back to its state at the snapshot first. A generator
created at init and drawn after each restore is reported beside the real results: it must repeat in every child,
or this harness is not reproducing what a snapshot copies.

argv: the event file. Environment: the function's, plus Lambda's. Prints one JSON document.
"""

from __future__ import annotations

import base64
import json
import os
import random
import sys
from typing import Any

RESTORES = 3
INVOCATIONS = 4
JITTER_DRAWS = 8


class Context:
    function_name = "BrokerFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:BrokerFunction:live"
    aws_request_id = "snapstart"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def jti(response: dict[str, Any]) -> str:
    if response.get("statusCode") != 200:
        raise RuntimeError(f"the broker answered {response.get('statusCode')}: {response.get('body')}")
    token = json.loads(response["body"])["token"]
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["jti"])


def restored(event: dict[str, Any], snapshot_random: Any, init_generator: random.Random) -> dict[str, Any]:
    """One execution environment resumed from the snapshot."""
    from awslambdaric import lambda_runtime_hooks_runner

    from tableau_broker import aws
    from token_broker import handler

    random.setstate(snapshot_random)  # undo CPython's reseed at fork: a restore has none
    lambda_runtime_hooks_runner.run_after_restore()
    carried = {"runtime": handler.runtime.cache_info().currsize, "clients": aws.built_clients()}
    return {
        "carried_after_restore": carried,
        "jtis": [jti(handler.lambda_handler(event, Context())) for _ in range(INVOCATIONS)],
        "jitter": [aws.jittered_pause(3) for _ in range(JITTER_DRAWS)],
        "init_generator": [init_generator.random() for _ in range(JITTER_DRAWS)],
    }


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as file:
        event = json.load(file)
    from awslambdaric import lambda_runtime_hooks_runner

    from token_broker import handler  # init

    init_generator = random.Random(int.from_bytes(os.urandom(8), "big"))  # the pitfall, for the control
    primed = jti(handler.lambda_handler(event, Context()))
    lambda_runtime_hooks_runner.run_before_snapshot()
    snapshot_random = random.getstate()

    sys.stdout.flush()
    results = []
    for _ in range(RESTORES):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the restored environment
            os.close(read_end)
            status = 0
            try:
                document = json.dumps(restored(event, snapshot_random, init_generator))
            except BaseException as exc:  # noqa: BLE001 - reported to the parent, whatever it is
                document, status = json.dumps({"error": f"{type(exc).__name__}: {exc}"}), 1
            with os.fdopen(write_end, "w", encoding="utf-8") as pipe:
                pipe.write(document)
            os._exit(status)
        os.close(write_end)
        with os.fdopen(read_end, encoding="utf-8") as pipe:
            results.append(json.loads(pipe.read()))
        os.waitpid(pid, 0)
    print(json.dumps({"primed_jti": primed, "restores": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
