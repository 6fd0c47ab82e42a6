"""`make invoke` prints the function's answer; the Tableau JWT in it is a credential and is shown by length only."""

from __future__ import annotations

import json

from local_stack.invoke import printable

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"


def answer(body: dict[str, object]) -> dict[str, object]:
    return {"statusCode": 200, "headers": {}, "body": json.dumps(body)}


def test_the_token_is_redacted_and_the_rest_kept() -> None:
    shown = printable(answer({"token": TOKEN, "expires_in": 300}))
    body = json.loads(shown["body"])
    assert TOKEN not in json.dumps(shown)
    assert body["expires_in"] == 300 and str(len(TOKEN)) in body["token"]


def test_show_token_prints_it() -> None:
    assert TOKEN in printable(answer({"token": TOKEN}), show_token=True)["body"]


def test_answers_without_a_token_are_unchanged() -> None:
    for payload in (answer({"error": {"code": "not_entitled"}}), {"errorMessage": "boom"}, None, {"body": "not json"}):
        assert printable(payload) == payload
