"""The use case: from a verified caller to a freshly minted, tenant-bound Tableau token."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

from tableau_broker.aws import error_code, is_transient
from tableau_broker.clock import Clock
from tableau_broker.config import BrokerSettings
from tableau_broker.entitlements import Entitlement, EntitlementStore
from tableau_broker.errors import ConfigurationError, DependencyUnavailable, ScopeNotAllowed
from tableau_broker.identity import CallerIdentity
from tableau_broker.scopes import grantable_scopes
from tableau_broker.signing_secret import ConnectedAppSecret, SecretCache
from tableau_broker.tableau_jwt import MintedToken, mint_token

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


# Immutable and built on every request: a NamedTuple costs a fifth of a frozen dataclass.
class IssuedToken(NamedTuple):
    minted: MintedToken
    entitlement: Entitlement
    kid: str  # Tableau's ID of the signing secret, safe to log
    # Wall time of the entitlement lookup and of the secret lookup (cache hits included), in milliseconds: the
    # `token issued` line's answer to "which dependency was slow" (the function runs no tracing SDK).
    dynamodb_ms: float = 0.0
    secretsmanager_ms: float = 0.0


def _dependency_error(exc: Exception, dependency: str) -> Exception:
    if is_transient(exc):
        return DependencyUnavailable(f"{dependency}_{error_code(exc)}", dependency=dependency)
    return ConfigurationError(f"{dependency}_{error_code(exc)}")


def effective_scopes(
    requested: Sequence[str] | None, entitlement: Entitlement, settings: BrokerSettings
) -> tuple[str, ...]:
    """Requested scopes (default: the configured default) must all be allowed for tenant, user and browser."""
    wanted = tuple(dict.fromkeys(requested if requested is not None else settings.default_scopes))
    allowed = grantable_scopes(
        entitlement.allowed_scopes, settings.embed_scopes, on_demand_access=entitlement.on_demand_access is not None
    )
    if not set(wanted) <= allowed:
        raise ScopeNotAllowed("scope_not_allowed")
    return wanted


@dataclass(frozen=True)
class TokenService:
    """The collaborators are the seams: tests hand in fakes, the handler the real clients."""

    settings: BrokerSettings
    store: EntitlementStore
    secrets_client: SecretsManagerClient
    secret_cache: SecretCache
    clock: Clock

    def _entitlement(self, sub: str) -> Entitlement:
        try:
            return self.store.resolve(sub, tenant_attribute=self.settings.tenant_attribute)
        except (ClientError, BotoCoreError) as exc:
            raise _dependency_error(exc, "dynamodb") from None

    def _secret(self, entitlement: Entitlement) -> ConnectedAppSecret:
        secret_arn = entitlement.connected_app_secret or self.settings.default_secret_arn
        if secret_arn not in self.settings.allowed_secret_arns:
            # A record pointing elsewhere is a misconfiguration or tampering: never sign with it.
            raise ConfigurationError("connected_app_secret_not_allowed")
        try:
            return self.secret_cache.get(self.secrets_client, secret_arn)
        except (ClientError, BotoCoreError) as exc:
            raise _dependency_error(exc, "secretsmanager") from None

    def issue(self, caller: CallerIdentity, requested_scopes: Sequence[str] | None) -> IssuedToken:
        started = time.perf_counter()
        entitlement = self._entitlement(caller.sub)
        looked_up = time.perf_counter()
        scopes = effective_scopes(requested_scopes, entitlement, self.settings)
        secret = self._secret(entitlement)
        signing = time.perf_counter()
        minted = mint_token(
            secret,
            username=entitlement.tableau_username,
            scopes=scopes,
            attributes=entitlement.attributes,
            lifetime_seconds=self.settings.token_lifetime_seconds,
            now=self.clock(),
            clock_skew_seconds=self.settings.clock_skew_seconds,
            on_demand_access=entitlement.on_demand_access,
        )
        return IssuedToken(
            minted=minted,
            entitlement=entitlement,
            kid=secret.secret_id,
            dynamodb_ms=round((looked_up - started) * 1000, 1),
            secretsmanager_ms=round((signing - looked_up) * 1000, 1),
        )
