"""The mutation catalogue: every claim and header a verifier looks at, bent one way at a time."""

from __future__ import annotations

import math
import random
import string
from collections.abc import Callable
from typing import Any

from tests.differential.configs import (
    ACCESS_ONLY,
    ID_ONLY,
    ORIGINAL_ISSUER,
    POOL_ID,
    REGION,
    UPDATED_ISSUER,
    Config,
)
from tests.differential.corpus import Context, Draft, Mutate, Mutation, Pick
from tests.differential.jose import EC_KID, ENC_KID, SECOND_KID, SIGNING_KID, RawJson, Signer, b64url, dumps

YEAR = 365 * 86400
B64URL = string.ascii_letters + string.digits + "-_"
Value = Callable[[Context], Any]


def _const(value: Any) -> Value:
    return lambda _ctx: value


def set_claim(name: str, value: Value) -> Mutate:
    def apply(draft: Draft, ctx: Context) -> None:
        draft.claims[name] = value(ctx)

    return apply


def drop_claim(name: str) -> Mutate:
    def apply(draft: Draft, _ctx: Context) -> None:
        draft.claims.pop(name, None)

    return apply


def set_client(value: Callable[[Context, str], Any]) -> Mutate:
    """Edit the claim that names the app client (``aud`` or ``client_id``); ``value`` gets the right client."""

    def apply(draft: Draft, ctx: Context) -> None:
        draft.claims[ctx.client_claim] = value(ctx, draft.claims[ctx.client_claim])

    return apply


def edit_iss(edit: Callable[[str, Context], Any]) -> Mutate:
    def apply(draft: Draft, ctx: Context) -> None:
        draft.claims["iss"] = edit(draft.claims["iss"], ctx)

    return apply


def set_header(name: str, value: Value) -> Mutate:
    def apply(draft: Draft, ctx: Context) -> None:
        draft.header[name] = value(ctx)

    return apply


def drop_header(name: str) -> Mutate:
    def apply(draft: Draft, _ctx: Context) -> None:
        draft.header.pop(name, None)

    return apply


def resign(alg: str, key: Callable[[Context], Any], header_alg: str | None = None, kid: str | None = None) -> Mutate:
    """Sign with ``alg`` and ``key``; the header says ``header_alg`` (default: the true one) and ``kid``."""

    def apply(draft: Draft, ctx: Context) -> None:
        draft.signer = Signer(alg, key(ctx))
        draft.header["alg"] = header_alg or alg
        if kid is not None:
            draft.header["kid"] = kid

    return apply


def edit_token(edit: Callable[[str, Context], str]) -> Mutate:
    def apply(draft: Draft, ctx: Context) -> None:
        draft.edits.append(lambda token: edit(token, ctx))

    return apply


def _segments(token: str) -> list[str]:
    return token.split(".")


def _with_signature(token: str, signature: str) -> str:
    head, payload, _ = _segments(token)
    return f"{head}.{payload}.{signature}"


def _flip_char(text: str, rng: random.Random, stop: int) -> str:
    position = rng.randrange(0, stop)
    replacement = rng.choice([c for c in B64URL if c != text[position]])
    return text[:position] + replacement + text[position + 1 :]


def _tamper(claim: str, value: Value) -> Mutate:
    """Change a claim after signing: the signed payload is swapped for the edited one."""

    def apply(draft: Draft, ctx: Context) -> None:
        edited = dict(draft.claims)
        edited[claim] = value(ctx)
        payload = b64url(dumps(edited).encode("utf-8"))
        draft.edits.append(lambda token: f"{_segments(token)[0]}.{payload}.{_segments(token)[2]}")

    return apply


def _compose(*steps: Mutate) -> Mutate:
    def apply(draft: Draft, ctx: Context) -> None:
        for step in steps:
            step(draft, ctx)

    return apply


def _pick_excluded_kind(rng: random.Random) -> tuple[Config, str]:
    """A deployment restricted to one kind of token, and a token of the other kind."""
    config = rng.choice([ID_ONLY, ACCESS_ONLY])
    return config, "access" if config.token_uses == ("id",) else "id"


def _number_variants(claim: str) -> list[Mutation]:
    """Claim values that are not finite JSON numbers, and numbers of odd shapes."""
    plausible: Value = {
        "exp": lambda ctx: math.floor(ctx.now) + 3600,
        "nbf": lambda ctx: math.floor(ctx.now) - 60,
        "iat": lambda ctx: math.floor(ctx.now) - 60,
    }[claim]
    return [
        Mutation(claim, "numeric_string", set_claim(claim, lambda ctx: str(plausible(ctx)))),
        Mutation(claim, "bool", set_claim(claim, _const(True))),
        Mutation(claim, "null", set_claim(claim, _const(None))),
        Mutation(claim, "array", set_claim(claim, lambda ctx: [plausible(ctx)])),
        Mutation(claim, "float", set_claim(claim, lambda ctx: plausible(ctx) + 0.25)),
        Mutation(claim, "exponent_notation", set_claim(claim, lambda ctx: RawJson(f"{plausible(ctx)}e0"))),
        Mutation(claim, "nan", set_claim(claim, _const(RawJson("NaN")))),
        Mutation(claim, "infinity", set_claim(claim, _const(RawJson("Infinity")))),
        Mutation(claim, "negative_infinity", set_claim(claim, _const(RawJson("-Infinity")))),
        Mutation(claim, "overflow_1e400", set_claim(claim, _const(RawJson("1e400")))),
    ]


def time_mutations() -> list[Mutation]:
    mutations = [
        Mutation("exp", "missing", drop_claim("exp")),
        Mutation("exp", "expired_by_1s", set_claim("exp", lambda ctx: math.floor(ctx.now) - ctx.tolerance - 1)),
        Mutation("exp", "expired_within_tolerance", set_claim("exp", lambda c: math.ceil(c.now) - c.tolerance + 1)),
        Mutation("exp", "expired_long_ago", set_claim("exp", lambda ctx: math.floor(ctx.now) - 86400)),
        Mutation("exp", "negative", set_claim("exp", _const(-1))),
        Mutation("exp", "zero", set_claim("exp", _const(0))),
        Mutation("exp", "far_future", set_claim("exp", lambda ctx: math.floor(ctx.now) + 10 * YEAR)),
        Mutation("exp", "huge_finite", set_claim("exp", _const(1e300))),
        Mutation("nbf", "past", set_claim("nbf", lambda ctx: math.floor(ctx.now) - 60)),
        Mutation("nbf", "future_within_tolerance", set_claim("nbf", lambda ctx: ctx.within_tolerance_ahead())),
        Mutation("nbf", "future_beyond_tolerance", set_claim("nbf", lambda ctx: ctx.past_tolerance())),
        Mutation("nbf", "far_future", set_claim("nbf", lambda ctx: math.floor(ctx.now) + YEAR)),
        Mutation("nbf", "negative", set_claim("nbf", _const(-1))),
        Mutation("iat", "missing", drop_claim("iat")),
        Mutation("iat", "long_ago", set_claim("iat", lambda ctx: math.floor(ctx.now) - 30 * 86400)),
        Mutation("iat", "future_within_tolerance", set_claim("iat", lambda ctx: ctx.within_tolerance_ahead())),
        Mutation("iat", "future_beyond_tolerance", set_claim("iat", lambda ctx: ctx.past_tolerance())),
        Mutation("iat", "far_future", set_claim("iat", lambda ctx: math.floor(ctx.now) + YEAR)),
        Mutation("iat", "negative", set_claim("iat", _const(-1))),
    ]
    for claim in ("exp", "nbf", "iat"):
        mutations.extend(_number_variants(claim))
    return mutations


def issuer_mutations() -> list[Mutation]:
    def other_pool(iss: str, ctx: Context) -> str:
        return iss.replace(POOL_ID, f"{REGION}_{''.join(ctx.rng.choices(B64URL[:62], k=9))}")

    return [
        Mutation("iss", "original_form", set_claim("iss", _const(ORIGINAL_ISSUER))),
        Mutation("iss", "updated_form", set_claim("iss", _const(UPDATED_ISSUER))),
        Mutation("iss", "trailing_slash", edit_iss(lambda iss, _c: iss + "/")),
        Mutation("iss", "updated_form_trailing_slash", set_claim("iss", _const(UPDATED_ISSUER + "/"))),
        Mutation("iss", "http_scheme", edit_iss(lambda iss, _c: iss.replace("https://", "http://"))),
        Mutation("iss", "upper_case_host", edit_iss(lambda iss, _c: iss.replace("cognito-idp", "Cognito-IDP"))),
        Mutation("iss", "pool_id_case", edit_iss(lambda iss, _c: iss.replace(POOL_ID, POOL_ID.swapcase()))),
        Mutation("iss", "other_region", edit_iss(lambda iss, _c: iss.replace(REGION, "us-east-1"))),
        Mutation("iss", "other_pool", edit_iss(other_pool)),
        Mutation(
            "iss", "updated_form_other_region", set_claim("iss", _const(UPDATED_ISSUER.replace(REGION, "eu-west-2")))
        ),
        Mutation("iss", "global_host", edit_iss(lambda iss, _c: iss.replace(f".{REGION}.", "."))),
        Mutation("iss", "explicit_port", edit_iss(lambda iss, _c: iss.replace(".com/", ".com:443/"))),
        Mutation("iss", "userinfo", edit_iss(lambda iss, _c: iss.replace("https://", "https://evil@"))),
        Mutation("iss", "path_suffix", edit_iss(lambda iss, _c: iss + "/.well-known")),
        Mutation("iss", "query", edit_iss(lambda iss, _c: iss + "?pool=1")),
        Mutation("iss", "trailing_space", edit_iss(lambda iss, _c: iss + " ")),
        Mutation("iss", "missing", drop_claim("iss")),
        Mutation("iss", "null", set_claim("iss", _const(None))),
        Mutation("iss", "empty", set_claim("iss", _const(""))),
        Mutation("iss", "number", set_claim("iss", _const(42))),
        Mutation("iss", "array", edit_iss(lambda iss, _c: [iss])),
    ]


def client_mutations() -> list[Mutation]:
    def swap_claim(draft: Draft, ctx: Context) -> None:
        other = "client_id" if ctx.client_claim == "aud" else "aud"
        draft.claims[other] = draft.claims.pop(ctx.client_claim)

    def wrong_primary_right_other(draft: Draft, ctx: Context) -> None:
        other = "client_id" if ctx.client_claim == "aud" else "aud"
        draft.claims[other] = draft.claims[ctx.client_claim]
        draft.claims[ctx.client_claim] = "unknownclient0000000000000"

    return [
        Mutation("client", "wrong", set_client(lambda c, _r: "".join(c.rng.choices(string.ascii_lowercase, k=26)))),
        Mutation("client", "array_with_right", set_client(lambda _c, right: [right])),
        Mutation("client", "array_right_and_wrong", set_client(lambda _c, right: [right, "otherclient"])),
        Mutation("client", "array_empty", set_client(lambda _c, _r: [])),
        Mutation("client", "missing", lambda draft, ctx: drop_claim(ctx.client_claim)(draft, ctx)),
        Mutation("client", "null", set_client(lambda _c, _r: None)),
        Mutation("client", "empty", set_client(lambda _c, _r: "")),
        Mutation("client", "number", set_client(lambda _c, _r: 42)),
        Mutation("client", "upper_case", set_client(lambda _c, right: right.upper())),
        Mutation("client", "trailing_space", set_client(lambda _c, right: right + " ")),
        Mutation("client", "in_the_other_claim", swap_claim),
        Mutation("client", "wrong_in_right_claim", wrong_primary_right_other),
    ]


def token_use_mutations() -> list[Mutation]:
    excluded: Pick = _pick_excluded_kind
    return [
        Mutation("token_use", "kind_not_configured", lambda _d, _c: None, pick=excluded),
        Mutation("token_use", "refresh", set_claim("token_use", _const("refresh"))),
        Mutation("token_use", "upper_case", set_claim("token_use", lambda ctx: ctx.token_use.upper())),
        Mutation("token_use", "missing", drop_claim("token_use")),
        Mutation("token_use", "null", set_claim("token_use", _const(None))),
        Mutation("token_use", "empty", set_claim("token_use", _const(""))),
        Mutation("token_use", "array", set_claim("token_use", lambda ctx: [ctx.token_use])),
        Mutation("token_use", "object", set_claim("token_use", lambda ctx: {"use": ctx.token_use})),
        Mutation("token_use", "number", set_claim("token_use", _const(1))),
        Mutation(
            "token_use", "flipped_kind", set_claim("token_use", lambda c: "access" if c.token_use == "id" else "id")
        ),
    ]


def sub_mutations() -> list[Mutation]:
    return [
        Mutation("sub", "missing", drop_claim("sub")),
        Mutation("sub", "empty", set_claim("sub", _const(""))),
        Mutation("sub", "blank", set_claim("sub", _const("   "))),
        Mutation("sub", "null", set_claim("sub", _const(None))),
        Mutation("sub", "number", set_claim("sub", _const(12345))),
        Mutation("sub", "array", set_claim("sub", lambda ctx: [str(ctx.rng.getrandbits(64))])),
        Mutation("sub", "object", set_claim("sub", _const({"id": "x"}))),
        Mutation("sub", "hash", set_claim("sub", lambda ctx: f"{ctx.rng.getrandbits(64):x}#admin")),
        Mutation("sub", "nul", set_claim("sub", lambda ctx: f"{ctx.rng.getrandbits(64):x}\x00")),
        Mutation("sub", "newline", set_claim("sub", lambda ctx: f"{ctx.rng.getrandbits(64):x}\nlevel=admin")),
        Mutation("sub", "tab", set_claim("sub", lambda ctx: f"a\t{ctx.rng.getrandbits(64):x}")),
        Mutation("sub", "unit_separator", set_claim("sub", lambda ctx: f"{ctx.rng.getrandbits(64):x}\x1f")),
        Mutation("sub", "unicode", set_claim("sub", lambda ctx: f"jos\u00e9-\u6771\u4eac-{ctx.rng.getrandbits(32):x}")),
        Mutation("sub", "long", set_claim("sub", lambda ctx: f"{ctx.rng.getrandbits(4000):01000x}")),
        Mutation("sub", "upper_case_uuid", lambda draft, _ctx: draft.claims.update(sub=draft.claims["sub"].upper())),
    ]


def algorithm_mutations() -> list[Mutation]:
    def signing(ctx: Context) -> Any:
        return ctx.keys.signing

    return [
        Mutation(
            "alg",
            "none_empty_signature",
            _compose(resign("none", _const(None)), set_header("kid", _const(SIGNING_KID))),
        ),
        Mutation("alg", "none_keeping_signature", set_header("alg", _const("none"))),
        Mutation(
            "alg", "hs256_keyed_with_public_pem", resign("HS256", lambda ctx: ctx.keys.public_pem(), kid=SIGNING_KID)
        ),
        Mutation(
            "alg",
            "hs256_keyed_with_n",
            resign("HS256", lambda ctx: ctx.keys.jwks()["keys"][0]["n"].encode(), kid=SIGNING_KID),
        ),
        Mutation("alg", "rs384", resign("RS384", signing, kid=SIGNING_KID)),
        Mutation("alg", "rs512", resign("RS512", signing, kid=SIGNING_KID)),
        Mutation("alg", "es256_header_rs256_signature", resign("RS256", signing, header_alg="ES256", kid=SIGNING_KID)),
        Mutation("alg", "es256_with_the_sets_ec_key", resign("ES256", lambda ctx: ctx.keys.ec_key, kid=EC_KID)),
        Mutation("alg", "rs256_naming_the_ec_key", resign("RS256", signing, kid=EC_KID)),
        Mutation("alg", "rs256_with_the_encryption_key", resign("RS256", lambda ctx: ctx.keys.enc_key, kid=ENC_KID)),
        Mutation("alg", "missing", drop_header("alg")),
        Mutation("alg", "lower_case", set_header("alg", _const("rs256"))),
        Mutation("alg", "number", set_header("alg", _const(256))),
        Mutation("alg", "ps256_label", set_header("alg", _const("PS256"))),
    ]


def header_mutations() -> list[Mutation]:
    def stranger_jwk(ctx: Context) -> dict[str, str]:
        n = ctx.keys.stranger.public_key().public_numbers().n
        return {"kty": "RSA", "e": "AQAB", "n": b64url(n.to_bytes(256, "big"))}

    return [
        Mutation("kid", "unknown", set_header("kid", lambda ctx: f"{ctx.rng.getrandbits(128):x}")),
        Mutation("kid", "missing", drop_header("kid")),
        Mutation("kid", "empty", set_header("kid", _const(""))),
        Mutation("kid", "null", set_header("kid", _const(None))),
        Mutation("kid", "number", set_header("kid", _const(1))),
        Mutation("kid", "array", set_header("kid", _const([SIGNING_KID]))),
        Mutation(
            "kid",
            "names_the_other_key",
            lambda draft, _c: draft.header.update(
                kid=SECOND_KID if draft.header["kid"] == SIGNING_KID else SIGNING_KID
            ),
        ),
        Mutation("kid", "stranger_key_with_known_kid", resign("RS256", lambda ctx: ctx.keys.stranger)),
        Mutation("typ", "jwt", set_header("typ", _const("JWT"))),
        Mutation("typ", "at_jwt", set_header("typ", _const("at+jwt"))),
        Mutation("typ", "number", set_header("typ", _const(1))),
        Mutation("header", "jku_elsewhere", set_header("jku", _const("https://attacker.example/jwks.json"))),
        Mutation("header", "x5u_elsewhere", set_header("x5u", _const("https://attacker.example/cert.pem"))),
        Mutation(
            "header", "embedded_jwk_of_signer", lambda draft, ctx: draft.header.update(jwk=ctx.keys.jwks()["keys"][0])
        ),
        Mutation(
            "header",
            "embedded_jwk_of_stranger",
            _compose(resign("RS256", lambda ctx: ctx.keys.stranger), set_header("jwk", stranger_jwk)),
        ),
        Mutation(
            "header",
            "crit_unknown_extension",
            _compose(set_header("crit", _const(["urn:example:x"])), set_header("urn:example:x", _const(1))),
        ),
        Mutation("header", "extra_parameter", set_header("x-note", lambda ctx: str(ctx.rng.getrandbits(32)))),
        Mutation("header", "not_an_object", lambda draft, _c: setattr(draft, "header_json", dumps([draft.header]))),
        Mutation("header", "not_json", lambda draft, _c: setattr(draft, "header_json", '{"alg":"RS256",')),
    ]


def signature_mutations() -> list[Mutation]:
    def other_signature(token: str, ctx: Context) -> str:
        forged = Signer("RS256", ctx.keys.signing).sign(ctx.rng.randbytes(64))
        return _with_signature(token, b64url(forged))

    def padded(token: str, _ctx: Context) -> str:
        return token + "=" * (-len(_segments(token)[2]) % 4)

    def noncanonical_tail(token: str, _ctx: Context) -> str:
        # An RSA-2048 signature is 342 base64url characters; the last one carries 4 unused bits.
        signature = _segments(token)[2]
        tail = B64URL[B64URL.index(signature[-1]) ^ 1]
        return _with_signature(token, signature[:-1] + tail)

    def standard_alphabet(token: str, _ctx: Context) -> str:
        return token.replace("-", "+").replace("_", "/")

    def junk_inside_signature(token: str, ctx: Context) -> str:
        signature = _segments(token)[2]
        at = ctx.rng.randrange(1, len(signature) - 1)
        return _with_signature(token, signature[:at] + ctx.rng.choice("!$*~ ") + signature[at:])

    return [
        Mutation("signature", "empty", edit_token(lambda token, _c: _with_signature(token, ""))),
        Mutation("signature", "stripped", edit_token(lambda token, _c: token.rsplit(".", 1)[0])),
        Mutation(
            "signature",
            "truncated",
            edit_token(lambda t, c: _with_signature(t, _segments(t)[2][: c.rng.randrange(1, 340)])),
        ),
        Mutation(
            "signature",
            "one_char_changed",
            edit_token(lambda t, c: _with_signature(t, _flip_char(_segments(t)[2], c.rng, 340))),
        ),
        Mutation("signature", "of_other_content", edit_token(other_signature)),
        Mutation("signature", "base64_padding", edit_token(padded)),
        Mutation("signature", "noncanonical_last_char", edit_token(noncanonical_tail)),
        Mutation("encoding", "standard_base64_alphabet", edit_token(standard_alphabet)),
        Mutation("encoding", "junk_inside_signature", edit_token(junk_inside_signature)),
        Mutation("segments", "extra_segment", edit_token(lambda token, c: f"{token}.{b64url(c.rng.randbytes(8))}")),
        Mutation("segments", "five_segments_jwe_like", edit_token(lambda token, _c: f"{token}.AAAA.BBBB")),
        Mutation("segments", "empty_token", edit_token(lambda _t, _c: "")),
        Mutation("segments", "only_dots", edit_token(lambda _t, _c: "..")),
    ]


def payload_mutations() -> list[Mutation]:
    def raw_payload(text: Callable[[Draft, Context], str]) -> Mutate:
        return lambda draft, ctx: setattr(draft, "payload_json", text(draft, ctx))

    def duplicate(claim: str, first: Value) -> Mutate:
        """The claim twice: a wrong value, then the true one (every JSON parser here keeps the last)."""

        def text(draft: Draft, ctx: Context) -> str:
            body = dumps(draft.claims)
            return "{" + f"{dumps(claim)}:{dumps(first(ctx))}," + body[1:]

        return raw_payload(text)

    return [
        Mutation("payload", "tampered_sub", _tamper("sub", lambda ctx: f"{ctx.rng.getrandbits(128):032x}")),
        Mutation("payload", "tampered_exp", _tamper("exp", lambda ctx: math.floor(ctx.now) + 10 * YEAR)),
        Mutation(
            "payload",
            "tampered_token_use",
            _tamper("token_use", lambda ctx: "access" if ctx.token_use == "id" else "id"),
        ),
        Mutation("payload", "array", raw_payload(lambda draft, _c: dumps([draft.claims]))),
        Mutation("payload", "string", raw_payload(lambda draft, _c: dumps(dumps(draft.claims)))),
        Mutation("payload", "number", raw_payload(lambda _d, _c: "42")),
        Mutation("payload", "null", raw_payload(lambda _d, _c: "null")),
        Mutation("payload", "not_json", raw_payload(lambda draft, _c: dumps(draft.claims)[:-1])),
        Mutation("payload", "duplicate_sub", duplicate("sub", _const("attacker"))),
        Mutation("payload", "duplicate_token_use", duplicate("token_use", _const("refresh"))),
        Mutation("payload", "huge_claim", set_claim("custom:blob", lambda ctx: "x" * ctx.rng.randint(20_000, 60_000))),
        Mutation(
            "payload",
            "many_claims",
            lambda draft, ctx: draft.claims.update({f"c{i}": i for i in range(ctx.rng.randint(500, 2000))}),
        ),
        Mutation(
            "payload",
            "nested_claim",
            set_claim("custom:nested", lambda ctx: {"a": [{"b": list(range(ctx.rng.randint(1, 50)))}]}),
        ),
        Mutation("payload", "proto_key", set_claim("__proto__", _const({"sub": "attacker"}))),
    ]


def valid_mutations() -> list[Mutation]:
    return [
        Mutation("valid", "as_issued", lambda _d, _c: None),
        Mutation("valid", "second_signing_key", resign("RS256", lambda ctx: ctx.keys.second, kid=SECOND_KID)),
        Mutation(
            "valid",
            "header_order_alg_first",
            lambda draft, _c: setattr(draft, "header", {"alg": "RS256", **draft.header}),
        ),
    ]


def catalogue() -> list[tuple[Mutation, int]]:
    """Each mutation with how many cases to draw for it (the valid baseline more often)."""
    weighted = [(m, 40 if m.variant == "as_issued" else 8) for m in valid_mutations()]
    for family in (
        time_mutations,
        issuer_mutations,
        client_mutations,
        token_use_mutations,
        sub_mutations,
        algorithm_mutations,
        header_mutations,
        signature_mutations,
        payload_mutations,
    ):
        weighted.extend((m, 7) for m in family())
    return weighted
