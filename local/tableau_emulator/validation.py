"""How the emulator judges a connected-app (Direct Trust) JWT, and the error code each failure produces.

:data:`ERROR_TABLE` is the single source of truth: one :class:`Rule` per check, in the order the checks run.
Codes follow the Tableau documentation (see ``/work/shared/reference/tableau-connected-apps.md``); rows
marked *emulator choice* are behaviours Tableau does not document precisely, fixed here so tests can rely on
them.

This module deliberately shares no code with the product's token minting: it is the independent judge.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import jwt
from jwt.api_jws import PyJWS

from .state import EmulatorState, NotFoundError, UserInfo, origin_allowed

Purpose = Literal["embed", "rest"]

EMBED_SCOPES: Final = frozenset({"tableau:views:embed", "tableau:views:embed_authoring", "tableau:insights:embed"})
#: Retired (metrics embedding ended with Server 2023.3); accepted only when the site opts in.
RETIRED_EMBED_SCOPES: Final = frozenset({"tableau:metrics:embed"})
REGISTERED_CLAIMS: Final = frozenset({"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "scp"})
TABLEAU_CLAIM_PREFIX: Final = "https://tableau.com/"
ODA_CLAIM: Final = "https://tableau.com/oda"
GROUPS_CLAIM: Final = "https://tableau.com/groups"
#: Seconds a token's ``iat``/``nbf`` may lie in the future (the minting clock running slightly ahead).
CLOCK_SKEW_LEEWAY_SECONDS: Final = 5
ALLOWED_ALGORITHM: Final = "HS256"

_REST_SCOPE = re.compile(r"^tableau:[a-z_]+:(?:[a-z_]+|\*)$")


@dataclass(frozen=True)
class Rule:
    """One validation rule: ``name`` (stable id), Tableau ``code``, Tableau's ``summary`` for that code,
    what triggers it (``meaning``) and which sign-in it applies to (``embed``, ``rest`` or ``both``)."""

    name: str
    code: int
    summary: str
    meaning: str
    applies_to: Literal["embed", "rest", "both"] = "both"


#: Every check, in evaluation order. Tests iterate over this table.
ERROR_TABLE: Final[tuple[Rule, ...]] = (
    Rule("malformed_token", 10084, "JWT_PARSE_ERROR", "not a compact JWS with a JSON object header and payload"),
    Rule("kid_missing", 10083, "BAD_JWT", "header has no 'kid' (secret ID)"),
    Rule("iss_missing", 10083, "BAD_JWT", "neither header nor payload carries 'iss' (client ID)"),
    Rule(
        "issuer_mismatch",
        10089,
        "CONNECTED_APP_NOT_FOUND",
        "header 'iss' and payload 'iss' name different client IDs (emulator choice)",
    ),
    Rule("alg_not_hs256", 10087, "BLOCKLISTED_JWS_ALGORITHM_USED_TO_SIGN", "'alg' is not HS256 (incl. 'none')"),
    Rule("site_unknown", 5, "SYSTEM_USER_NOT_FOUND", "siteName is not the content URL of a site (emulator choice)"),
    Rule("app_unknown", 10089, "CONNECTED_APP_NOT_FOUND", "'iss' is not the client ID of an app of that site"),
    Rule("app_disabled", 10090, "CONNECTED_APP_DISABLED", "the connected app is disabled"),
    Rule("kid_unknown", 10085, "COULD_NOT_FETCH_JWT_KEYS", "'kid' is not the ID of a secret of that app"),
    Rule("signature_invalid", 127, "CONNECTED_APP_SECRET_NOT_FOUND", "HS256 signature does not verify"),
    Rule("aud_invalid", 10084, "JWT_PARSE_ERROR", "'aud' missing or not exactly the string \"tableau\""),
    Rule("sub_missing", 10084, "JWT_PARSE_ERROR", "'sub' missing or not a non-empty string"),
    Rule("exp_missing", 10084, "JWT_PARSE_ERROR", "'exp' missing or not a number"),
    Rule("time_claim_not_number", 10084, "JWT_PARSE_ERROR", "'iat' or 'nbf' present but not a number"),
    Rule("jti_missing", 10084, "JWT_PARSE_ERROR", "'jti' missing or not a non-empty string"),
    Rule(
        "scp_invalid",
        10084,
        "JWT_PARSE_ERROR",
        "'scp' missing, a bare string, an empty array or an array with a non-string",
    ),
    Rule(
        "scp_no_embed_scope",
        10084,
        "JWT_PARSE_ERROR",
        "embed sign-in: 'scp' has no embed scope (tableau:views:embed, tableau:views:embed_authoring, "
        "tableau:insights:embed) (emulator choice)",
        "embed",
    ),
    Rule(
        "scp_no_rest_scope",
        10084,
        "JWT_PARSE_ERROR",
        "REST sign-in: 'scp' has no REST scope tableau:<resource>:<action> (emulator choice)",
        "rest",
    ),
    Rule(
        "groups_invalid",
        10084,
        "JWT_PARSE_ERROR",
        "'https://tableau.com/groups' present but not an array of strings",
    ),
    Rule(
        "exp_beyond_max",
        10096,
        "JWT_EXPIRATION_EXCEEDS_MAXIMUM",
        "'exp' more than the site's maximum lifetime (default 10 min) after 'iat' (after now without 'iat'); "
        "summary wording is the emulator's",
    ),
    Rule("expired", 16, "LOGIN_FAILED", "'exp' is not in the future"),
    Rule("nbf_in_future", 16, "LOGIN_FAILED", f"'nbf' more than {CLOCK_SKEW_LEEWAY_SECONDS} s in the future"),
    Rule("iat_in_future", 16, "LOGIN_FAILED", f"'iat' more than {CLOCK_SKEW_LEEWAY_SECONDS} s in the future"),
    Rule(
        "origin_not_allowed",
        16,
        "LOGIN_FAILED",
        "request Origin missing or not matched by the app's domain allowlist (emulator choice)",
        "embed",
    ),
    Rule(
        "oda_not_licensed",
        67,
        "FEATURE_NOT_ENABLED",
        'token carries "https://tableau.com/oda": "true" but the site has no on-demand access',
    ),
    Rule("user_unknown", 5, "SYSTEM_USER_NOT_FOUND", "'sub' is not a user of the site (case-sensitive), no ODA"),
    Rule("jti_replayed", 16, "LOGIN_FAILED", "'jti' already redeemed with this connected app (emulator choice)"),
)

RULES: Final[Mapping[str, Rule]] = {r.name: r for r in ERROR_TABLE}


class JwtRejectedError(Exception):
    """A token failed ``rule``; ``detail`` says why (never contains the token or a secret)."""

    def __init__(self, rule: str, detail: str = "") -> None:
        self.rule = RULES[rule]
        self.detail = detail or self.rule.meaning
        super().__init__(f"{self.rule.code} {self.rule.summary}: {self.detail}")

    @property
    def code(self) -> int:
        return self.rule.code

    def to_json(self) -> dict[str, Any]:
        """The error object of an embed sign-in failure (``{"result": {"errors": [<this>]}}``)."""
        return {
            "code": self.rule.code,
            "message": f"{self.rule.summary}: {self.detail}",
            "emulatorRule": self.rule.name,
        }


@dataclass(frozen=True)
class AcceptedToken:
    """A token that passed every rule."""

    site_id: str
    site_content_url: str
    client_id: str
    kid: str
    user: UserInfo
    ad_hoc_user: bool  # True: an on-demand-access user created for this sign-in (fresh id, role "Viewer")
    attributes: Mapping[str, Any]
    scopes: tuple[str, ...]
    jti: str
    exp: float
    on_demand_access: bool
    groups: tuple[str, ...]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _nonempty_str(value: object) -> bool:
    return isinstance(value, str) and value != ""


def user_attributes(claims: Mapping[str, Any]) -> dict[str, Any]:
    """Every top-level claim that is neither registered nor under ``https://tableau.com/``."""
    return {k: v for k, v in claims.items() if k not in REGISTERED_CLAIMS and not k.startswith(TABLEAU_CLAIM_PREFIX)}


def is_rest_scope(scope: str) -> bool:
    return bool(_REST_SCOPE.match(scope)) and scope not in EMBED_SCOPES and scope not in RETIRED_EMBED_SCOPES


def validate_connected_app_jwt(
    state: EmulatorState,
    *,
    site_name: str,
    token: object,
    purpose: Purpose,
    origin: str | None = None,
) -> AcceptedToken:
    """Judge ``token`` for a sign-in to site ``site_name``; raises :class:`JwtRejectedError`.

    On success the ``jti`` is consumed (a second use is ``jti_replayed``). ``origin`` is checked against
    the app's domain allowlist for ``purpose="embed"`` only.
    """
    # --- structure and header
    if not isinstance(token, str) or token.count(".") != 2:
        raise JwtRejectedError("malformed_token")
    try:
        header = jwt.get_unverified_header(token)
        unverified = PyJWS().decode_complete(token, options={"verify_signature": False})
        claims = json.loads(unverified["payload"])
    except (jwt.PyJWTError, ValueError, UnicodeDecodeError) as exc:
        raise JwtRejectedError("malformed_token", f"cannot parse the token ({type(exc).__name__})") from None
    if not isinstance(claims, dict):
        raise JwtRejectedError("malformed_token", "payload is not a JSON object")

    kid = header.get("kid")
    if not _nonempty_str(kid):
        raise JwtRejectedError("kid_missing")
    header_iss, payload_iss = header.get("iss"), claims.get("iss")
    if not _nonempty_str(header_iss) and not _nonempty_str(payload_iss):
        raise JwtRejectedError("iss_missing")
    if _nonempty_str(header_iss) and _nonempty_str(payload_iss) and header_iss != payload_iss:
        raise JwtRejectedError("issuer_mismatch")
    client_id = str(header_iss if _nonempty_str(header_iss) else payload_iss)
    if header.get("alg") != ALLOWED_ALGORITHM:
        raise JwtRejectedError("alg_not_hs256", f"'alg' is {header.get('alg')!r}; only HS256 is accepted")

    # --- site, app, secret, signature
    site = state.find_site(site_name) if isinstance(site_name, str) else None
    if site is None or site.content_url != site_name:
        raise JwtRejectedError("site_unknown", f"no site with content URL {site_name!r}")
    try:
        app = state.app_view(site.content_url, client_id)
    except NotFoundError:
        raise JwtRejectedError("app_unknown", "no connected app with that client ID on this site") from None
    if not app.enabled:
        raise JwtRejectedError("app_disabled")
    secret = next((s for s in app.secrets if s.id == kid), None)
    if secret is None:
        raise JwtRejectedError("kid_unknown")
    try:
        PyJWS().decode_complete(token, key=secret.value, algorithms=[ALLOWED_ALGORITHM])
    except jwt.InvalidSignatureError:
        raise JwtRejectedError("signature_invalid") from None
    except jwt.PyJWTError as exc:
        raise JwtRejectedError("malformed_token", f"signature check failed ({type(exc).__name__})") from None

    # --- claim shapes
    if claims.get("aud") != "tableau" or not isinstance(claims.get("aud"), str):
        raise JwtRejectedError("aud_invalid")
    sub = claims.get("sub")
    if not _nonempty_str(sub):
        raise JwtRejectedError("sub_missing")
    assert isinstance(sub, str)  # nosec B101  # type narrowing after the check above
    exp = claims.get("exp")
    if not _is_number(exp):
        raise JwtRejectedError("exp_missing")
    assert isinstance(exp, int | float)  # nosec B101  # type narrowing after the check above
    for name in ("iat", "nbf"):
        if name in claims and not _is_number(claims[name]):
            raise JwtRejectedError("time_claim_not_number", f"'{name}' is not a number")
    jti = claims.get("jti")
    if not _nonempty_str(jti):
        raise JwtRejectedError("jti_missing")
    assert isinstance(jti, str)  # nosec B101  # type narrowing after the check above
    scp = claims.get("scp")
    if not isinstance(scp, list) or not scp or not all(isinstance(s, str) for s in scp):
        raise JwtRejectedError(
            "scp_invalid", f"'scp' must be a non-empty JSON array of strings, got {type(scp).__name__}"
        )
    scopes = tuple(str(s) for s in scp)
    if purpose == "embed":
        embed_ok = EMBED_SCOPES | (RETIRED_EMBED_SCOPES if site.accept_metrics_embed_scope else frozenset())
        if not any(s in embed_ok for s in scopes):
            raise JwtRejectedError("scp_no_embed_scope")
    elif not any(is_rest_scope(s) for s in scopes):
        raise JwtRejectedError("scp_no_rest_scope")
    groups_claim = claims.get(GROUPS_CLAIM)
    if groups_claim is not None and (
        not isinstance(groups_claim, list) or not all(isinstance(g, str) for g in groups_claim)
    ):
        raise JwtRejectedError("groups_invalid")
    groups = tuple(str(g) for g in groups_claim or ())

    # --- times
    now = state.clock()
    iat = claims.get("iat")
    nbf = claims.get("nbf")
    issued = float(iat) if isinstance(iat, int | float) and _is_number(iat) else now
    max_seconds = site.max_jwt_lifetime_minutes * 60
    if exp - issued > max_seconds:
        raise JwtRejectedError(
            "exp_beyond_max",
            f"token lifetime {exp - issued:.0f} s exceeds the site maximum of {max_seconds} s",
        )
    if exp <= now:
        raise JwtRejectedError("expired", f"token expired {now - exp:.0f} s ago")
    if isinstance(nbf, int | float) and nbf > now + CLOCK_SKEW_LEEWAY_SECONDS:
        raise JwtRejectedError("nbf_in_future", f"'nbf' is {float(nbf) - now:.0f} s in the future")
    if isinstance(iat, int | float) and iat > now + CLOCK_SKEW_LEEWAY_SECONDS:
        raise JwtRejectedError("iat_in_future", f"'iat' is {float(iat) - now:.0f} s in the future")

    # --- where from, and who
    if purpose == "embed" and not origin_allowed(app.domain_allowlist, origin):
        raise JwtRejectedError("origin_not_allowed", f"origin {origin!r} is not in the app's domain allowlist")
    oda = claims.get(ODA_CLAIM) == "true"
    if oda and not site.on_demand_access:
        raise JwtRejectedError("oda_not_licensed")
    user = state.user(site.content_url, sub)
    ad_hoc = user is None
    if user is None:
        if not oda or purpose != "embed":
            raise JwtRejectedError("user_unknown", f"no user {sub!r} on this site (usernames are case-sensitive)")
        user = UserInfo(id=str(uuid.uuid4()), name=sub, site_role="Viewer")

    # --- one-shot redemption
    if not state.consume_jti(client_id, jti, float(exp)):
        raise JwtRejectedError("jti_replayed")

    return AcceptedToken(
        site_id=site.id,
        site_content_url=site.content_url,
        client_id=client_id,
        kid=str(kid),
        user=user,
        ad_hoc_user=ad_hoc,
        attributes=user_attributes(claims) if site.user_attributes_enabled else {},
        scopes=scopes,
        jti=jti,
        exp=float(exp),
        on_demand_access=oda,
        groups=groups,
    )
