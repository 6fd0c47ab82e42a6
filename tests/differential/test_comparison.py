"""The judge itself: what counts as agreement, as a named stricter verdict, and as a disagreement."""

from __future__ import annotations

import pytest

from tests.differential.comparison import Identity, Outcome, Verdict
from tests.differential.configs import BOTH_FORMS, ORIGINAL_ONLY, Config
from tests.differential.corpus import Case, Mutation

pytestmark = pytest.mark.differential

ALICE = Identity("alice-sub", "id", "client", "alice")
ACCEPT = Verdict(ALICE)
REJECT_401 = Verdict(None, error="Unauthenticated:x", http_status=401)
AWS_REJECT = Verdict(None, error="JwtParseError")


def _case(family: str, variant: str, config: Config = BOTH_FORMS) -> Case:
    return Case(0, Mutation(family, variant, lambda _d, _c: None), config, "id", "seed")


def _judge(case: Case, broker: Verdict, reference: Verdict) -> Outcome:
    outcome = Outcome()
    outcome.judge(case, broker, reference)
    return outcome


def test_same_identity_and_shared_rejections_agree() -> None:
    assert _judge(_case("valid", "as_issued"), ACCEPT, ACCEPT).agreed == 1
    assert _judge(_case("kid", "unknown"), REJECT_401, AWS_REJECT).agreed == 1


def test_accepting_a_different_identity_disagrees() -> None:
    other = Verdict(Identity("mallory-sub", "id", "client", "alice"))
    assert _judge(_case("valid", "as_issued"), other, ACCEPT).disagreements


def test_broker_more_lenient_than_aws_disagrees_even_under_a_rule() -> None:
    assert _judge(_case("iss", "trailing_slash"), ACCEPT, AWS_REJECT).disagreements
    assert _judge(_case("sub", "missing"), ACCEPT, AWS_REJECT).disagreements  # rule applies: must reject


def test_broker_stricter_counts_only_under_a_named_rule() -> None:
    named = _judge(_case("sub", "hash"), REJECT_401, ACCEPT)
    assert not named.disagreements and named.stricter["sub_plain_characters"] == 1
    assert _judge(_case("nbf", "future_within_tolerance"), REJECT_401, ACCEPT).disagreements


def test_a_rule_whose_broker_accepts_is_not_enforced() -> None:
    outcome = _judge(_case("iss", "updated_form", ORIGINAL_ONLY), ACCEPT, ACCEPT)
    assert "issuer_forms_configured not enforced" in outcome.disagreements[0]
    assert not _judge(_case("iss", "updated_form", BOTH_FORMS), ACCEPT, ACCEPT).disagreements


def test_a_rejection_that_is_not_a_401_disagrees() -> None:
    crash = Verdict(None, error="TypeError", http_status=500)
    assert "instead of a 401" in _judge(_case("token_use", "array"), crash, AWS_REJECT).disagreements[0]
