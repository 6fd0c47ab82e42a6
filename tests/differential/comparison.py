"""Judging one case: the broker's verdict against aws-jwt-verify's, with the stricter rules as the only excuse."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tests.differential.corpus import Case
from tests.differential.rules import rules_for


@dataclass(frozen=True)
class Identity:
    sub: str | None
    token_use: str | None
    client_id: str | None
    username: str | None


@dataclass(frozen=True)
class Verdict:
    """Accepted with an identity, or rejected with an error class (for the report only)."""

    identity: Identity | None
    error: str | None = None
    http_status: int | None = None  # broker only: the status its error maps to (401 for a rejected token)

    @property
    def accepted(self) -> bool:
        return self.identity is not None

    @classmethod
    def from_reference(cls, raw: dict[str, Any]) -> Verdict:
        if raw.get("valid") is True:
            return cls(Identity(raw.get("sub"), raw.get("token_use"), raw.get("client_id"), raw.get("username")))
        return cls(None, error=str(raw.get("error")))

    def describe(self) -> str:
        if self.identity is not None:
            return f"accept({self.identity})"
        return f"reject({self.error}, status={self.http_status})" if self.http_status else f"reject({self.error})"


@dataclass
class Outcome:
    cases: int = 0
    agreed: int = 0
    both_accepted: int = 0
    stricter: Counter[str] = field(default_factory=Counter)
    rule_matches: Counter[str] = field(default_factory=Counter)
    disagreements: list[str] = field(default_factory=list)
    disagreeing_mutations: Counter[str] = field(default_factory=Counter)

    def judge(self, case: Case, broker: Verdict, reference: Verdict) -> None:
        self.cases += 1
        rules = rules_for(case)
        for rule in rules:
            self.rule_matches[rule.name] += 1
        where = f"#{case.index} {case.mutation.name} [{case.config.name}, {case.token_use}]"
        if broker.identity is None and broker.http_status != 401:
            self._disagree(case, f"{where}: broker failed with {broker.describe()} instead of a 401")
            return
        if rules and broker.accepted:
            names = ", ".join(rule.name for rule in rules)
            self._disagree(case, f"{where}: stricter rule {names} not enforced; broker {broker.describe()}")
            return
        if broker.accepted and reference.accepted:
            if broker.identity == reference.identity:
                self.agreed += 1
                self.both_accepted += 1
            else:
                self._disagree(
                    case, f"{where}: identities differ: broker {broker.describe()}, aws {reference.describe()}"
                )
            return
        if not broker.accepted and not reference.accepted:
            self.agreed += 1
            return
        if broker.accepted:
            self._disagree(case, f"{where}: broker accepts what aws-jwt-verify rejects ({reference.error})")
            return
        if rules:
            self.stricter[rules[0].name] += 1
            return
        self._disagree(
            case,
            f"{where}: broker rejects ({broker.error}) what aws-jwt-verify accepts, and no stricter rule names it",
        )

    def _disagree(self, case: Case, text: str) -> None:
        self.disagreements.append(text)
        self.disagreeing_mutations[case.mutation.name] += 1

    def report(self, examples: int = 40) -> str:
        """Disagreements grouped by mutation, then the first ``examples`` of them in full."""
        groups = [f"  {name}: {count}" for name, count in sorted(self.disagreeing_mutations.items())]
        return "\n".join(
            [
                f"{len(self.disagreements)} disagreements, by mutation:",
                *groups,
                "first ones:",
                *self.disagreements[:examples],
            ]
        )

    def summary(self) -> str:
        lines = [
            f"differential: {self.cases} cases, {self.agreed} agreed ({self.both_accepted} accepted by both), "
            f"{sum(self.stricter.values())} stricter by rule, {len(self.disagreements)} disagreements"
        ]
        lines.extend(f"  stricter {name}: {count}" for name, count in sorted(self.stricter.items()))
        return "\n".join(lines)
