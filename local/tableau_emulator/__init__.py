"""A small Flask stand-in for Tableau (Server/Cloud): the parts the token broker touches.

It judges connected-app JWTs independently of the product's minting code (it imports nothing from the
product). Typical use::

    from tableau_emulator import EmulatorState, serve

    state = EmulatorState()
    state.add_site("acme")
    state.add_user("acme", "alice@acme.test")
    app = state.add_connected_app("acme", "token-broker", domain_allowlist=["127.0.0.1"])
    with serve(state) as server:          # http://127.0.0.1:<port>
        ...
"""

from .app import BUNDLE_ROUTE, EMBED_SIGNIN_PATH, SESSION_COOKIE, create_app
from .bundle import BundleBuildError, bundle_path, ensure_embedding_bundle
from .seed import load_seed, load_seed_file, seed_demo
from .server import EmulatorServer, serve
from .state import (
    FAULT_KINDS,
    FAULT_OPERATIONS,
    MAX_SECRETS_PER_APP,
    SITE_ADMIN_ROLES,
    ConnectedAppInfo,
    DemoRow,
    EmbedSession,
    EmulatorError,
    EmulatorState,
    InvalidDomainAllowlistError,
    NotFoundError,
    SecretInfo,
    SecretLimitExceededError,
    SigninRecord,
    default_demo_rows,
)
from .validation import (
    EMBED_SCOPES,
    ERROR_TABLE,
    RULES,
    AcceptedToken,
    JwtRejectedError,
    Rule,
    validate_connected_app_jwt,
)
from .views import user_attribute_includes

__all__ = [
    "BUNDLE_ROUTE",
    "EMBED_SCOPES",
    "EMBED_SIGNIN_PATH",
    "ERROR_TABLE",
    "FAULT_KINDS",
    "FAULT_OPERATIONS",
    "MAX_SECRETS_PER_APP",
    "RULES",
    "SESSION_COOKIE",
    "SITE_ADMIN_ROLES",
    "AcceptedToken",
    "BundleBuildError",
    "ConnectedAppInfo",
    "DemoRow",
    "EmbedSession",
    "EmulatorError",
    "EmulatorServer",
    "EmulatorState",
    "InvalidDomainAllowlistError",
    "JwtRejectedError",
    "NotFoundError",
    "Rule",
    "SecretInfo",
    "SecretLimitExceededError",
    "SigninRecord",
    "bundle_path",
    "create_app",
    "default_demo_rows",
    "ensure_embedding_bundle",
    "load_seed",
    "load_seed_file",
    "seed_demo",
    "serve",
    "user_attribute_includes",
    "validate_connected_app_jwt",
]
