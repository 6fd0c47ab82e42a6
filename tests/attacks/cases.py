"""Claim mutations shared by the handler and the stack catalogues.

A mutation takes a real Cognito claim set (as issued to a signed-in user), ``now`` and the pool's facts, and
returns the hostile claim set. Times are computed from ``now`` inside the test, never at collection.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DROP = object()

Claims = dict[str, Any]


@dataclass(frozen=True)
class Pool:
    issuer: str
    client_id: str
    other_client_id: str
    region: str
    pool_id: str


Mutation = Callable[[Claims, float, Pool], Claims]


def tolerance() -> int:
    """The one clock tolerance the broker allows on every time claim (COGNITO_CLOCK_TOLERANCE_SECONDS)."""
    return int(os.environ.get("COGNITO_CLOCK_TOLERANCE_SECONDS", "5"))


def with_claim(name: str, value: Callable[[Claims, float, Pool], Any] | Any) -> Mutation:
    def mutate(claims: Claims, now: float, pool: Pool) -> Claims:
        new = dict(claims)
        resolved = value(claims, now, pool) if callable(value) else value
        if resolved is DROP:
            new.pop(name, None)
        else:
            new[name] = resolved
        return new

    return mutate


def as_access(mutation: Mutation | None = None) -> Mutation:
    """The claim set of an access token (client_id instead of aud), then ``mutation``."""

    def mutate(claims: Claims, now: float, pool: Pool) -> Claims:
        new = {k: v for k, v in claims.items() if k not in ("aud", "email", "cognito:username", "email_verified")}
        new.update(token_use="access", client_id=claims["aud"], username=claims["sub"])
        return mutation(new, now, pool) if mutation else new

    return mutate


T = tolerance


# --- time claims ----------------------------------------------------------------------------------------------
TIME_CASES: dict[str, tuple[Mutation, frozenset[str]]] = {
    # name: (mutation, paths it applies to: bearer = a token the broker verifies, gateway = authorizer claims)
    "exp-missing": (with_claim("exp", DROP), frozenset({"bearer", "gateway"})),
    "exp-word": (with_claim("exp", "tomorrow"), frozenset({"bearer", "gateway"})),
    "exp-empty": (with_claim("exp", ""), frozenset({"bearer", "gateway"})),
    "exp-numeric-string": (with_claim("exp", lambda c, now, p: str(int(now) + 3600)), frozenset({"bearer"})),
    "exp-true": (with_claim("exp", True), frozenset({"bearer", "gateway"})),
    "exp-null": (with_claim("exp", None), frozenset({"bearer", "gateway"})),
    "exp-list": (with_claim("exp", lambda c, now, p: [int(now) + 3600]), frozenset({"bearer", "gateway"})),
    "exp-nan": (with_claim("exp", float("nan")), frozenset({"bearer", "gateway"})),
    "exp-infinity": (with_claim("exp", float("inf")), frozenset({"bearer", "gateway"})),
    "exp-minus-infinity": (with_claim("exp", float("-inf")), frozenset({"bearer", "gateway"})),
    "exp-expired-by-1s": (with_claim("exp", lambda c, now, p: int(now) - T() - 1), frozenset({"bearer", "gateway"})),
    "exp-expired-long-ago": (with_claim("exp", 1_600_000_000), frozenset({"bearer", "gateway"})),
    "nbf-future": (with_claim("nbf", lambda c, now, p: int(now) + T() + 60), frozenset({"bearer"})),
    "nbf-string": (with_claim("nbf", lambda c, now, p: str(int(now) - 60)), frozenset({"bearer"})),
    "nbf-true": (with_claim("nbf", True), frozenset({"bearer"})),
    "nbf-nan": (with_claim("nbf", float("nan")), frozenset({"bearer"})),
    "iat-future": (with_claim("iat", lambda c, now, p: int(now) + T() + 60), frozenset({"bearer"})),
    "iat-string": (with_claim("iat", lambda c, now, p: str(int(now) - 60)), frozenset({"bearer"})),
    "iat-false": (with_claim("iat", False), frozenset({"bearer"})),
    "iat-infinity": (with_claim("iat", float("inf")), frozenset({"bearer"})),
    "access-exp-expired-by-1s": (
        as_access(with_claim("exp", lambda c, now, p: int(now) - T() - 1)),
        frozenset({"bearer", "gateway"}),
    ),
}

# exp written as a JSON number literal Python cannot hold (a float overflow to infinity on parsing).
LITERAL_CASES = {"exp-1e400": ("exp", "1e400"), "exp-minus-1e400": ("exp", "-1e400"), "iat-1e400": ("iat", "1e400")}


# --- issuer near-misses ---------------------------------------------------------------------------------------
def _iss(transform: Callable[[Pool], Any]) -> Mutation:
    return with_claim("iss", lambda c, now, p: transform(p))


ISSUER_CASES: dict[str, Mutation] = {
    "trailing-slash": _iss(lambda p: p.issuer + "/"),
    "double-trailing-slash": _iss(lambda p: p.issuer + "//"),
    "other-pool": _iss(lambda p: f"https://cognito-idp.{p.region}.amazonaws.com/{p.region}_SomeOtherPool"),
    "other-region": _iss(lambda p: p.issuer.replace(p.region, "eu-west-1", 1)),
    "http-scheme": _iss(lambda p: p.issuer.replace("https://", "http://")),
    "uppercase-host": _iss(lambda p: p.issuer.replace("cognito-idp", "COGNITO-IDP")),
    "pool-id-other-case": _iss(lambda p: p.issuer.replace(p.pool_id, p.pool_id.swapcase())),
    "path-suffix": _iss(lambda p: p.issuer + "/evil"),
    "query-suffix": _iss(lambda p: p.issuer + "?x=1"),
    "prefix-only": _iss(lambda p: p.issuer.rsplit("/", 1)[0]),
    "padded": _iss(lambda p: f" {p.issuer} "),
    "lookalike-host": _iss(lambda p: p.issuer.replace("amazonaws.com", "amazonaws.com.evil.example")),
    "missing": with_claim("iss", DROP),
    "empty": with_claim("iss", ""),
    "list": _iss(lambda p: [p.issuer]),
    "null": with_claim("iss", None),
}

# --- audience / app client ------------------------------------------------------------------------------------
AUDIENCE_CASES: dict[str, Mutation] = {
    "id-other-client": with_claim("aud", lambda c, now, p: p.other_client_id),
    "id-aud-missing": with_claim("aud", DROP),
    "id-aud-empty": with_claim("aud", ""),
    "id-aud-list-allowed": with_claim("aud", lambda c, now, p: [p.client_id]),
    "id-aud-list-mixed": with_claim("aud", lambda c, now, p: [p.other_client_id, p.client_id]),
    "id-aud-case": with_claim("aud", lambda c, now, p: p.client_id.upper()),
    "id-client_id-instead-of-aud": lambda c, now, p: {
        **{k: v for k, v in c.items() if k != "aud"},
        "client_id": p.client_id,
    },
    "access-other-client": as_access(with_claim("client_id", lambda c, now, p: p.other_client_id)),
    "access-client_id-missing-aud-allowed": as_access(
        lambda c, now, p: {**{k: v for k, v in c.items() if k != "client_id"}, "aud": p.client_id}
    ),
    "access-client_id-list": as_access(with_claim("client_id", lambda c, now, p: [p.client_id])),
}

# --- token_use ------------------------------------------------------------------------------------------------
TOKEN_USE_CASES: dict[str, Mutation] = {
    "refresh": with_claim("token_use", "refresh"),
    "uppercase": with_claim("token_use", "ID"),
    "padded": with_claim("token_use", " id"),
    "empty": with_claim("token_use", ""),
    "missing": with_claim("token_use", DROP),
    "null": with_claim("token_use", None),
    "true": with_claim("token_use", True),
    "array": with_claim("token_use", ["id"]),
    "object": with_claim("token_use", {"id": True}),
    "both-kinds": with_claim("token_use", "id access"),
    "access-but-id-shaped": with_claim("token_use", "access"),
}

# --- sub ------------------------------------------------------------------------------------------------------
SUB_CASES: dict[str, Mutation] = {
    "missing": with_claim("sub", DROP),
    "empty": with_claim("sub", ""),
    "blank": with_claim("sub", "   "),
    "null": with_claim("sub", None),
    "number": with_claim("sub", 12345),
    "array": with_claim("sub", lambda c, now, p: [c["sub"]]),
    "object": with_claim("sub", lambda c, now, p: {"S": c["sub"]}),
    "user-key-prefix": with_claim("sub", lambda c, now, p: f"USER#{c['sub']}"),
    "tenant-key": with_claim("sub", "TENANT#acme"),
    "hash-suffix": with_claim("sub", lambda c, now, p: f"{c['sub']}#TENANT#globex"),
    "padded": with_claim("sub", lambda c, now, p: f" {c['sub']} "),
    "nul": with_claim("sub", lambda c, now, p: f"{c['sub']}\x00"),
    "newline-log-injection": with_claim("sub", lambda c, now, p: f'{c["sub"]}\n{{"level":"INFO","message":"x"}}'),
    "uppercase": with_claim("sub", lambda c, now, p: c["sub"].upper()),
}
