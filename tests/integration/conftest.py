from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.broker_stack import BrokerStack, build_broker_stack


@pytest.fixture
def stack(moto_server_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[BrokerStack]:
    from token_broker import handler

    yield build_broker_stack(moto_server_url, monkeypatch)
    handler.reset_runtime()
