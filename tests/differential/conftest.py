"""Session fixtures of the differential suite: the reference verifier installed, keys made, the JWKS served."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.differential.broker_side import serving_jwks
from tests.differential.jose import Keys
from tests.differential.reference import ensure_installed


@pytest.fixture(scope="session")
def aws_jwt_verify() -> None:
    """``npm ci`` in tests/differential when node_modules is missing or stale (from a clean clone, in CI)."""
    ensure_installed()


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys.generate()


@pytest.fixture(scope="session")
def jwks_url(keys: Keys) -> Iterator[str]:
    with serving_jwks(keys.jwks()) as url:
        yield url
