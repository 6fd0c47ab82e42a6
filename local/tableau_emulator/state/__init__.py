"""In-memory, thread-safe state of the Tableau emulator.

Everything the emulator knows lives in one :class:`EmulatorState`: sites, users, personal access tokens,
connected apps and their secrets (:mod:`.registry`), the demo dataset, sign-in sessions and consumed ``jti``
values (:mod:`.sessions`), a bounded log of accepted sign-ins (:mod:`.signin_log`) and injected faults
(:mod:`.faults`). The parts hold no lock of their own: :class:`EmulatorState` owns one re-entrant lock and
takes it around every call, so a state can be shared between the HTTP server threads and the test (or local
stack) that seeds and inspects it.
"""

from .allowlist import frame_ancestors, origin_allowed, origin_matches, validate_domain_pattern
from .emulator_state import DEFAULT_REST_TOKEN_TTL_SECONDS, EmulatorState
from .errors import EmulatorError, InvalidDomainAllowlistError, NotFoundError, SecretLimitExceededError
from .faults import FAULT_KINDS, FAULT_OPERATIONS, TOKEN_EXPIRED
from .records import (
    DEFAULT_WORKBOOKS,
    MAX_SECRETS_PER_APP,
    SITE_ADMIN_ROLES,
    AppView,
    ConnectedAppInfo,
    DemoRow,
    EmbedSession,
    RestSession,
    SecretInfo,
    SigninRecord,
    SiteView,
    UserInfo,
    default_demo_rows,
    new_secret_value,
    utc_iso,
)
from .registry import DEFAULT_MAX_JWT_LIFETIME_MINUTES, DEFAULT_TENANT_ATTRIBUTE
from .signin_log import DEFAULT_MAX_SIGNIN_RECORDS

__all__ = [
    "DEFAULT_MAX_JWT_LIFETIME_MINUTES",
    "DEFAULT_MAX_SIGNIN_RECORDS",
    "DEFAULT_REST_TOKEN_TTL_SECONDS",
    "DEFAULT_TENANT_ATTRIBUTE",
    "DEFAULT_WORKBOOKS",
    "FAULT_KINDS",
    "FAULT_OPERATIONS",
    "MAX_SECRETS_PER_APP",
    "SITE_ADMIN_ROLES",
    "TOKEN_EXPIRED",
    "AppView",
    "ConnectedAppInfo",
    "DemoRow",
    "EmbedSession",
    "EmulatorError",
    "EmulatorState",
    "InvalidDomainAllowlistError",
    "NotFoundError",
    "RestSession",
    "SecretInfo",
    "SecretLimitExceededError",
    "SigninRecord",
    "SiteView",
    "UserInfo",
    "default_demo_rows",
    "frame_ancestors",
    "new_secret_value",
    "origin_allowed",
    "origin_matches",
    "utc_iso",
    "validate_domain_pattern",
]
