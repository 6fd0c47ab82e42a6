"""The broker's bearer-path verdicts agree with AWS's own verifier, aws-jwt-verify, on a seeded corpus.

Every case is a Cognito-shaped token (valid, or bent in one named way) judged under one of several
deployments. Both verifiers must accept it with the same identity or both reject it; the broker may reject
where aws-jwt-verify accepts only where a named stricter rule (rules.py) says so, and must reject there.
"""

from __future__ import annotations

import time

import pytest

from tests.differential.broker_side import BrokerBearerPath
from tests.differential.comparison import Outcome, Verdict
from tests.differential.corpus import build_corpus
from tests.differential.jose import Keys
from tests.differential.mutations import catalogue
from tests.differential.reference import reference_verdicts
from tests.differential.rules import STRICTER_RULES
from tests.support.figures import record


@pytest.mark.differential
@pytest.mark.usefixtures("aws_jwt_verify")
def test_bearer_verdicts_agree_with_aws_jwt_verify(keys: Keys, jwks_url: str) -> None:
    corpus = build_corpus(catalogue())
    broker = BrokerBearerPath(jwks_url)

    broker_verdicts: list[Verdict] = []
    reference_input = []
    for case in corpus:
        # Each token is minted and judged by the broker at its own instant; aws-jwt-verify is handed the same
        # instant, so the run's length never moves a case across an expiry or tolerance boundary.
        now = time.time()
        token = case.token(keys, now)
        broker_verdicts.append(broker.verdict(token, case.config, now=now))
        reference_input.append({"token": token, "config": case.config.reference_options(), "now": now})

    reference = [Verdict.from_reference(raw) for raw in reference_verdicts(keys.jwks(), reference_input)]

    outcome = Outcome()
    for case, ours, theirs in zip(corpus, broker_verdicts, reference, strict=True):
        outcome.judge(case, ours, theirs)
    print("\n" + outcome.summary())
    record(
        "differential",
        cases=outcome.cases,
        agreed=outcome.agreed,
        accepted_by_both=outcome.both_accepted,
        disagreements=len(outcome.disagreements),
        stricter=[{"rule": r.name, "reason": r.reason, "count": outcome.stricter[r.name]} for r in STRICTER_RULES],
        reference="aws-jwt-verify 5.2.1",
    )

    assert not outcome.disagreements, outcome.report()
    # The corpus exercises what it claims to: valid tokens are accepted, every named rule was needed.
    assert outcome.both_accepted >= 100, outcome.summary()
    unused = [rule.name for rule in STRICTER_RULES if outcome.stricter[rule.name] == 0]
    assert not unused, f"stricter rules no case needed: {unused}"
    # Every case has its own random stream, fixed by SEED: the same corpus on every run and machine.
    assert len({case.seed for case in corpus}) == len(corpus) == len(build_corpus(catalogue()))
