"""Counts the catalogue cases that actually ran and writes the ``attacks`` figure after each one.

A case is one executed test item marked ``attack`` (a parametrised case counts once); its class is the test
function's name without the ``test_attack_`` / ``test_stack_attack_`` prefix. The figure is rewritten after every
case, so whatever subset a run selects, the record describes exactly that run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from tests.support.figures import record

PREFIXES = ("test_stack_attack_", "test_attack_")


class Tally:
    def __init__(self) -> None:
        self.cases: Counter[str] = Counter()
        self.layers: Counter[str] = Counter()

    def count(self, item: pytest.Item) -> None:
        name = getattr(item, "originalname", item.name)
        prefix = next((p for p in PREFIXES if name.startswith(p)), None)
        assert prefix is not None, f"{name}: catalogue tests are named test_attack_<class> or test_stack_attack_<class>"
        assert item.get_closest_marker("attack") is not None, f"{name} is not marked attack"
        self.cases[name.removeprefix(prefix)] += 1
        self.layers["stack" if prefix == "test_stack_attack_" else "handler"] += 1
        record(
            "attacks",
            classes=len(self.cases),
            cases=sum(self.cases.values()),
            handler_cases=self.layers["handler"],
            stack_cases=self.layers["stack"],
            per_class=dict(sorted(self.cases.items())),
        )


TALLY = Tally()


@pytest.fixture(autouse=True)
def attack_tally(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    TALLY.count(request.node)
