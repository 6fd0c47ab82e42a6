"""REST API subset: sign-in/out and connected-app secrets (JSON only).

Error bodies follow Tableau's envelope ``{"error": {"code": "<string>", "summary": ..., "detail": ...}}``.
Codes (see :data:`REST_ERRORS`): Tableau's own where known (``401001``, ``401002``, ``128``), otherwise
emulator choices whose last digits echo the connected-app code (``404126`` app not found, ``404127``
secret not found).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

from flask import Blueprint, Response, jsonify, request

from .app_context import current_state, fault_response
from .state import (
    EmulatorState,
    NotFoundError,
    RestSession,
    SecretLimitExceededError,
    SigninRecord,
    SiteView,
)
from .validation import JwtRejectedError, validate_connected_app_jwt

#: (HTTP status, code, summary) for every REST error the emulator produces.
REST_ERRORS: Final[dict[str, tuple[int, str, str]]] = {
    "bad_request": (400, "400000", "Bad Request"),
    "secret_limit": (400, "128", "Connected app secret limit exceeded"),
    "signin": (401, "401001", "Signin Error"),
    "unauthorized": (401, "401002", "Unauthorized Access"),
    "forbidden": (403, "403000", "Forbidden"),
    "site_not_found": (404, "404000", "Site Not Found"),
    "version_not_found": (404, "404001", "Resource Not Found"),
    "app_not_found": (404, "404126", "Connected App Not Found"),
    "secret_not_found": (404, "404127", "Connected App Secret Not Found"),
}

API_VERSION: Final = re.compile(r"^\d+\.\d+$")
AUTH_HEADER: Final = "X-Tableau-Auth"
#: Both path families; the product chooses one by configuration.
APP_PATH_FAMILIES: Final = (
    "/sites/<site_id>/connected-applications/<client_id>",
    "/sites/<site_id>/connected-apps/direct-trust/<client_id>",
)

rest_bp = Blueprint("rest", __name__, url_prefix="/api/<ver>")


def rest_error(key: str, detail: str) -> Response:
    status, code, summary = REST_ERRORS[key]
    resp = jsonify({"error": {"code": code, "summary": summary, "detail": detail}})
    resp.status_code = status
    return resp


@rest_bp.before_request
def _check_version() -> Response | None:
    ver = (request.view_args or {}).get("ver", "")
    if not API_VERSION.match(str(ver)):
        return rest_error("version_not_found", f"Unknown API version {ver!r}")
    return None


# ----------------------------------------------------------------------------------------- sign-in


@rest_bp.post("/auth/signin")
def signin(ver: str) -> Response:
    state = current_state()
    fault = state.take_fault("rest_signin")
    if fault == "unauthorized":
        return rest_error("signin", "Injected fault: unauthorized")
    if fault is not None:
        return fault_response(fault, rest=True)
    body = request.get_json(silent=True, force=True)
    creds = body.get("credentials") if isinstance(body, dict) else None
    if not isinstance(creds, dict):
        return rest_error("bad_request", 'Expected a JSON body {"credentials": {...}}')
    site_obj = creds.get("site")
    content_url = site_obj.get("contentUrl", "") if isinstance(site_obj, dict) else ""
    if not isinstance(content_url, str):
        return rest_error("bad_request", "credentials.site.contentUrl must be a string")

    if "personalAccessTokenName" in creds:
        name, secret = creds.get("personalAccessTokenName"), creds.get("personalAccessTokenSecret")
        found = (
            state.check_pat(content_url, name, secret)
            if isinstance(name, str) and isinstance(secret, str) and state.find_site(content_url) is not None
            else None
        )
        if found is None:
            return rest_error("signin", "Personal access token name or secret is invalid, or the site does not exist")
        user, pat_name = found
        session = state.open_rest_session(site=content_url, user=user, via="pat", pat_name=pat_name)
        state.record_signin(_record("rest-pat", state, session, scopes=(), jti=None, kid=None, client_id=None))
    elif "jwt" in creds:
        try:
            accepted = validate_connected_app_jwt(state, site_name=content_url, token=creds.get("jwt"), purpose="rest")
        except JwtRejectedError as rejected:
            return rest_error(
                "signin",
                f"Connected app JWT rejected: error {rejected.code} {rejected.rule.summary} "
                f"({rejected.rule.name}): {rejected.detail}",
            )
        session = state.open_rest_session(site=content_url, user=accepted.user, via="jwt")
        state.record_signin(
            _record(
                "rest-jwt",
                state,
                session,
                scopes=accepted.scopes,
                jti=accepted.jti,
                kid=accepted.kid,
                client_id=accepted.client_id,
            )
        )
    else:
        return rest_error("signin", "Only personal access token and connected-app JWT sign-in are supported")

    ttl = max(0, int(session.expires_at - state.clock()))
    return jsonify(
        {
            "credentials": {
                "token": session.token,
                "site": {"id": session.site_id, "contentUrl": session.site_content_url},
                "user": {"id": session.user_id},
                "estimatedTimeToExpiration": f"{ttl // 3600}:{ttl % 3600 // 60:02d}:{ttl % 60:02d}",
            }
        }
    )


def _record(
    kind: str,
    state: EmulatorState,
    session: RestSession,
    *,
    scopes: tuple[str, ...],
    jti: str | None,
    kid: str | None,
    client_id: str | None,
) -> SigninRecord:
    return SigninRecord(
        kind=kind,
        site=session.site_content_url,
        username=session.username,
        attributes={},
        jti=jti,
        kid=kid,
        client_id=client_id,
        scopes=scopes,
        on_demand_access=False,
        groups=(),
        origin=request.headers.get("Origin"),
        at=state.clock(),
    )


@rest_bp.post("/auth/signout")
def signout(ver: str) -> Response:
    state = current_state()
    fault = state.take_fault("rest_signout")
    if fault is not None:
        return fault_response(fault, rest=True)
    token = request.headers.get(AUTH_HEADER, "")
    if not token or not state.close_rest_session(token):
        return rest_error("unauthorized", "Missing or invalid X-Tableau-Auth token")
    return Response(status=204)


# ----------------------------------------------------------------------------- connected apps


def _authorize(state: EmulatorState, site_id: str) -> tuple[RestSession, SiteView] | Response:
    session = state.rest_session(request.headers.get(AUTH_HEADER))
    if session is None:
        return rest_error("unauthorized", "Missing, invalid or expired X-Tableau-Auth token")
    site = state.find_site(site_id)
    if site is None or site.id != site_id:
        return rest_error("site_not_found", f"No site with id {site_id!r}")
    if session.site_id != site_id:
        return rest_error("forbidden", "The auth token belongs to another site")
    if not session.is_site_admin:
        return rest_error("forbidden", f"User role {session.site_role!r} may not manage connected apps")
    return session, site


def _guarded(operation: str, site_id: str, action: Callable[[EmulatorState, SiteView, bool], Response]) -> Response:
    """Fault injection, then authorisation, then ``action(state, site, fail_after_commit)``."""
    state = current_state()
    fault = state.take_fault(operation)
    if fault is not None and fault != "server_error_after_commit":
        return fault_response(fault, rest=True)
    auth = _authorize(state, site_id)
    if isinstance(auth, Response):
        return auth
    _, site = auth
    return action(state, site, fault == "server_error_after_commit")


def _app_json(state: EmulatorState, site: SiteView, client_id: str) -> dict[str, Any]:
    app = state.app_view(site.content_url, client_id)
    return {
        "clientId": app.client_id,
        "name": app.name,
        "enabled": app.enabled,
        "domainSafelist": " ".join(app.domain_allowlist),
        "unrestrictedEmbedding": not app.domain_allowlist,
        "secrets": [{"id": s.id, "createdAt": s.created_at} for s in app.secrets],
    }


def list_apps(ver: str, site_id: str) -> Response:
    def action(state: EmulatorState, site: SiteView, fail: bool) -> Response:
        apps = [_app_json(state, site, a.client_id) for a in state.list_apps(site.content_url)]
        return fault_response("server_error", rest=True) if fail else jsonify({"connectedApplications": apps})

    return _guarded("list_apps", site_id, action)


def get_app(ver: str, site_id: str, client_id: str) -> Response:
    def action(state: EmulatorState, site: SiteView, fail: bool) -> Response:
        try:
            body = {"connectedApplication": _app_json(state, site, client_id)}
        except NotFoundError:
            return rest_error("app_not_found", f"No connected app {client_id!r} on this site")
        return fault_response("server_error", rest=True) if fail else jsonify(body)

    return _guarded("get_app", site_id, action)


def create_secret(ver: str, site_id: str, client_id: str) -> Response:
    def action(state: EmulatorState, site: SiteView, fail: bool) -> Response:
        try:
            secret = state.add_secret(site.content_url, client_id)
        except SecretLimitExceededError as exc:
            return rest_error("secret_limit", str(exc))
        except NotFoundError:
            return rest_error("app_not_found", f"No connected app {client_id!r} on this site")
        if fail:
            return fault_response("server_error", rest=True)
        return jsonify(
            {"connectedApplicationSecret": {"id": secret.id, "value": secret.value, "createdAt": secret.created_at}}
        )

    return _guarded("create_secret", site_id, action)


def get_secret(ver: str, site_id: str, client_id: str, secret_id: str) -> Response:
    def action(state: EmulatorState, site: SiteView, fail: bool) -> Response:
        try:
            app = state.app_view(site.content_url, client_id)
        except NotFoundError:
            return rest_error("app_not_found", f"No connected app {client_id!r} on this site")
        secret = next((s for s in app.secrets if s.id == secret_id), None)
        if secret is None:
            return rest_error("secret_not_found", f"No secret {secret_id!r} on connected app {client_id!r}")
        if fail:
            return fault_response("server_error", rest=True)
        return jsonify({"connectedApplicationSecret": {"id": secret.id, "createdAt": secret.created_at}})

    return _guarded("get_secret", site_id, action)


def delete_secret(ver: str, site_id: str, client_id: str, secret_id: str) -> Response:
    def action(state: EmulatorState, site: SiteView, fail: bool) -> Response:
        try:
            state.app_view(site.content_url, client_id)
        except NotFoundError:
            return rest_error("app_not_found", f"No connected app {client_id!r} on this site")
        try:
            state.delete_secret(site.content_url, client_id, secret_id)
        except NotFoundError:
            return rest_error("secret_not_found", f"No secret {secret_id!r} on connected app {client_id!r}")
        return fault_response("server_error", rest=True) if fail else Response(status=204)

    return _guarded("delete_secret", site_id, action)


rest_bp.add_url_rule("/sites/<site_id>/connected-applications", view_func=list_apps, methods=["GET"])
rest_bp.add_url_rule(
    "/sites/<site_id>/connected-apps/direct-trust", endpoint="list_apps_dt", view_func=list_apps, methods=["GET"]
)
for _i, _family in enumerate(APP_PATH_FAMILIES):
    rest_bp.add_url_rule(_family, endpoint=f"get_app_{_i}", view_func=get_app, methods=["GET"])
    rest_bp.add_url_rule(
        f"{_family}/secrets", endpoint=f"create_secret_{_i}", view_func=create_secret, methods=["POST"]
    )
    rest_bp.add_url_rule(
        f"{_family}/secrets/<secret_id>", endpoint=f"get_secret_{_i}", view_func=get_secret, methods=["GET"]
    )
    rest_bp.add_url_rule(
        f"{_family}/secrets/<secret_id>", endpoint=f"delete_secret_{_i}", view_func=delete_secret, methods=["DELETE"]
    )

__all__ = ["APP_PATH_FAMILIES", "REST_ERRORS", "rest_bp", "rest_error"]
