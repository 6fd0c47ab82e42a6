"""Where the broker is deliberately stricter than aws-jwt-verify, each rule named with its reason.

A rule is data: a name, the reason, and a predicate on the case (its mutation and deployment). Where a rule
applies the broker MUST reject the token; it may do so where aws-jwt-verify accepts. Everywhere else the two
verdicts must be the same: accept with the same identity, or reject. The broker is never allowed to be more
lenient than AWS's own verifier.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tests.differential.configs import UPDATED_ISSUER
from tests.differential.corpus import Case


@dataclass(frozen=True)
class StricterRule:
    name: str
    reason: str
    applies: Callable[[Case], bool]


def _is(family: str, *variants: str) -> Callable[[Case], bool]:
    return lambda case: case.mutation.family == family and case.mutation.variant in variants


def _pinned_issuer_form(case: Case) -> bool:
    forced_updated = case.mutation.family == "iss" and case.mutation.variant == "updated_form"
    return forced_updated and UPDATED_ISSUER not in case.config.issuers


STRICTER_RULES: tuple[StricterRule, ...] = (
    StricterRule(
        "exp_required",
        "A token without exp never expires. Cognito always sets exp; aws-jwt-verify checks it only when present.",
        _is("exp", "missing"),
    ),
    StricterRule(
        "sub_required",
        "Entitlements are keyed on the immutable sub, so a token without a non-blank sub names nobody; "
        "aws-jwt-verify does not require sub.",
        _is("sub", "missing", "empty", "blank"),
    ),
    StricterRule(
        "sub_plain_characters",
        "A Cognito sub is a UUID. '#' (a key separator) and control characters (log-line forgery) in it are "
        "refused; aws-jwt-verify only checks that sub is a string.",
        _is("sub", "hash", "nul", "newline", "tab", "unit_separator"),
    ),
    StricterRule(
        "iat_not_in_future",
        "aws-jwt-verify ignores iat. A token issued beyond the clock tolerance in the future comes from a skewed "
        "or forged issuer, so the broker refuses it.",
        _is("iat", "future_beyond_tolerance", "far_future"),
    ),
    StricterRule(
        "issuer_forms_configured",
        "aws-jwt-verify accepts both issuer forms for any pool; the broker accepts only the forms the "
        "deployment lists in COGNITO_ISSUERS (a pool issues one form, chosen by its IssuerConfiguration).",
        _pinned_issuer_form,
    ),
    StricterRule(
        "rs256_only",
        "Cognito signs with RS256 only; aws-jwt-verify accepts any supported algorithm that matches a key in "
        "the set, the broker pins RS256 so a non-RSA key in the set can never verify a token.",
        _is("alg", "es256_with_the_sets_ec_key"),
    ),
    StricterRule(
        "crit_understood",
        "RFC 7515 section 4.1.11: a recipient MUST reject a JWS whose crit header names an extension it does not "
        "understand. The broker understands none and rejects any crit; aws-jwt-verify ignores crit.",
        _is("header", "crit_unknown_extension"),
    ),
    StricterRule(
        "canonical_base64url",
        "RFC 4648 section 3.5 lets a decoder reject non-zero pad bits; the broker does, so one signature has one "
        "spelling (no token malleability). aws-jwt-verify's decoder drops the bits and accepts either spelling.",
        _is("signature", "noncanonical_last_char"),
    ),
    StricterRule(
        "unpadded_base64url",
        "RFC 7515 section 2: JWS segments are base64url with all trailing '=' omitted. The broker accepts that "
        "one spelling only; aws-jwt-verify also decodes a padded signature.",
        _is("signature", "base64_padding"),
    ),
    StricterRule(
        "numeric_date_in_range",
        "Cognito stamps exp, iat and nbf with the current time. A NumericDate before 1970 or after year 9999 is "
        "no real token's and cannot be represented as a date downstream, so the broker refuses it; aws-jwt-verify "
        "compares any finite number.",
        lambda case: _is("exp", "huge_finite")(case) or _is("iat", "negative")(case) or _is("nbf", "negative")(case),
    ),
    StricterRule(
        "unique_claim_names",
        "RFC 7519 section 4 and RFC 7515 section 4: duplicate member names MUST be rejected or resolved to the "
        "last one. Two different sub or token_use values are an attempt to make two parsers see two identities, "
        "so the broker rejects; aws-jwt-verify's JSON.parse keeps the last.",
        _is("payload", "duplicate_sub", "duplicate_token_use"),
    ),
    StricterRule(
        "sub_length",
        "A Cognito sub is a 36-character UUID and becomes a DynamoDB key; the broker refuses one over 256 "
        "characters. aws-jwt-verify accepts any string.",
        _is("sub", "long"),
    ),
)


def rules_for(case: Case) -> list[StricterRule]:
    return [rule for rule in STRICTER_RULES if rule.applies(case)]
