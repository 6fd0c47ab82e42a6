from __future__ import annotations

from typing import Any

import pytest

from tableau_broker.config import cognito_settings_from_env
from tableau_broker.errors import Unauthenticated
from tableau_broker.identity import _epoch, identity_from_claims

SETTINGS = cognito_settings_from_env({"COGNITO_USER_POOL_ID": "us-east-1_Pool1", "COGNITO_APP_CLIENT_IDS": "client-1"})
NOW = 1_800_000_000.0
ID_CLAIMS = {
    "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool1",
    "aud": "client-1",
    "token_use": "id",
    "sub": "sub-1",
    "exp": str(int(NOW) + 600),
    "cognito:username": "alice",
}


def test_id_and_access_claims() -> None:
    assert identity_from_claims(ID_CLAIMS, SETTINGS, now=NOW).sub == "sub-1"
    access = {**ID_CLAIMS, "token_use": "access", "client_id": "client-1", "aud": None, "username": "alice"}
    identity = identity_from_claims(access, SETTINGS, now=NOW)
    assert (identity.token_use, identity.client_id, identity.username) == ("access", "client-1", "alice")


@pytest.mark.parametrize(
    "change",
    [
        {"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other"},
        {"aud": "client-2"},
        {"token_use": "access"},  # an access token's client is in client_id, which is absent
        {"token_use": None},
        {"exp": str(int(NOW) - 120)},
        {"exp": "soon"},
        {"sub": ""},
    ],
)
def test_claims_fail_closed(change: dict[str, Any]) -> None:
    with pytest.raises(Unauthenticated):
        identity_from_claims({**ID_CLAIMS, **change}, SETTINGS, now=NOW)


def test_exp_formats_from_both_gateway_kinds() -> None:
    assert _epoch("1800000000") == 1_800_000_000
    assert _epoch(1_800_000_000) == 1_800_000_000
    assert _epoch("Fri Jan 15 08:00:00 UTC 2027") == 1_800_000_000
    assert _epoch(True) is None and _epoch("[a b]") is None
