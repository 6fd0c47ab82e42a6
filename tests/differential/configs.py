"""The deployments the corpus is judged under, each expressed both as the broker's environment and as the
options of aws-jwt-verify's ``CognitoJwtVerifier.create``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

POOL_ID = "eu-west-1_Dif4Pool9"
REGION = "eu-west-1"
ORIGINAL_ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{POOL_ID}"
UPDATED_ISSUER = f"https://issuer-cognito-idp.{REGION}.amazonaws.com/{POOL_ID}"
CLIENT_A = "4hq2sl0m8kq1v7c9d3example"
CLIENT_B = "7pvq1c2b0n3s8t5r6uexample"


@dataclass(frozen=True)
class Config:
    name: str
    issuers: tuple[str, ...]  # the broker's COGNITO_ISSUERS, exact
    client_ids: tuple[str, ...]
    token_uses: tuple[str, ...]  # "id" and/or "access"
    tolerance_seconds: int  # COGNITO_CLOCK_TOLERANCE_SECONDS == aws-jwt-verify's graceSeconds

    def broker_env(self, jwks_url: str) -> dict[str, str]:
        return {
            "COGNITO_USER_POOL_ID": POOL_ID,
            "COGNITO_APP_CLIENT_IDS": ",".join(self.client_ids),
            "COGNITO_TOKEN_USE": ",".join(self.token_uses),
            "COGNITO_ISSUERS": ",".join(self.issuers),
            "COGNITO_CLOCK_TOLERANCE_SECONDS": str(self.tolerance_seconds),
            "COGNITO_JWKS_URL": jwks_url,
        }

    def reference_options(self) -> dict[str, Any]:
        """aws-jwt-verify accepts both issuer forms of the pool whatever we configure (see the rules)."""
        return {
            "userPoolId": POOL_ID,
            "clientId": list(self.client_ids),
            "tokenUse": self.token_uses[0] if len(self.token_uses) == 1 else None,
            "graceSeconds": self.tolerance_seconds,
        }


BOTH_FORMS = Config("both-issuer-forms", (ORIGINAL_ISSUER, UPDATED_ISSUER), (CLIENT_A, CLIENT_B), ("id", "access"), 5)
ORIGINAL_ONLY = Config("original-issuer-only", (ORIGINAL_ISSUER,), (CLIENT_A,), ("id", "access"), 5)
ID_ONLY = Config("id-tokens-only", (ORIGINAL_ISSUER, UPDATED_ISSUER), (CLIENT_B,), ("id",), 2)
ACCESS_ONLY = Config("access-tokens-only", (UPDATED_ISSUER, ORIGINAL_ISSUER), (CLIENT_A, CLIENT_B), ("access",), 5)

CONFIGS: tuple[Config, ...] = (BOTH_FORMS, ORIGINAL_ONLY, ID_ONLY, ACCESS_ONLY)
