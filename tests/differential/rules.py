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
        "understand. PyJWT (the broker's decoder) does; aws-jwt-verify ignores crit.",
        _is("header", "crit_unknown_extension"),
    ),
    StricterRule(
        "canonical_base64url",
        "RFC 4648 section 3.5 lets a decoder reject non-zero pad bits; PyJWT does, so one signature has one "
        "spelling (no token malleability). aws-jwt-verify's decoder drops the bits and accepts either spelling.",
        _is("signature", "noncanonical_last_char"),
    ),
)


def rules_for(case: Case) -> list[StricterRule]:
    return [rule for rule in STRICTER_RULES if rule.applies(case)]
