"""Flask application: embed sign-in, demo views, the Embedding API bundle and the ``/_emulator`` admin API."""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, jsonify, request, send_file

from .app_context import BundleBuilder, attach, current_bundle_builder, current_state, fault_response
from .bundle import BundleBuildError, ensure_embedding_bundle
from .rest import rest_bp
from .state import (
    FAULT_KINDS,
    FAULT_OPERATIONS,
    TOKEN_EXPIRED,
    EmbedSession,
    EmulatorError,
    EmulatorState,
    NotFoundError,
    SigninRecord,
    frame_ancestors,
)
from .validation import ERROR_TABLE, AcceptedToken, JwtRejectedError, validate_connected_app_jwt
from .views import render_message, render_view

SESSION_COOKIE: Final = "workgroup_session_id"
EMBED_SIGNIN_PATH: Final = "/vizportal/api/web/v1/auth/embed/signin"
EMBED_TARGET_PATH: Final = "/vizportal/api/web/v1/auth/embed/target"
BUNDLE_ROUTE: Final = "/javascripts/api/tableau.embedding.3.latest.min.js"

embed_bp = Blueprint("embed", __name__)
admin_bp = Blueprint("admin", __name__, url_prefix="/_emulator")


def create_app(state: EmulatorState, *, bundle_builder: BundleBuilder | None = None) -> Flask:
    """The emulator as a WSGI app over ``state``. ``bundle_builder`` defaults to
    :func:`~tableau_emulator.bundle.ensure_embedding_bundle` (tests may inject a failing one)."""
    app = Flask("tableau_emulator")
    attach(app, state, bundle_builder or ensure_embedding_bundle)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.register_blueprint(embed_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(rest_bp)
    return app


# ----------------------------------------------------------------------------------------- helpers


def _cors(resp: Response, *, credentials: bool) -> Response:
    origin = request.headers.get("Origin")
    if origin:
        resp.headers["Access-Control-Allow-Origin"] = origin
        if credentials:
            resp.headers["Access-Control-Allow-Credentials"] = "true"
    elif not credentials:
        resp.headers["Access-Control-Allow-Origin"] = "*"
    resp.headers.add("Vary", "Origin")
    return resp


def _html(body: str, status: int, *, frame_ancestors_value: str = "*") -> Response:
    resp = Response(body, status=status, mimetype="text/html")
    resp.headers["Content-Security-Policy"] = f"frame-ancestors {frame_ancestors_value}"
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _record_embed_signin(state: EmulatorState, accepted: AcceptedToken, origin: str | None) -> EmbedSession:
    session = state.open_embed_session(
        site=accepted.site_content_url,
        user_id=accepted.user.id,
        username=accepted.user.name,
        site_role=accepted.user.site_role,
        attributes=accepted.attributes,
        client_id=accepted.client_id,
        on_demand_access=accepted.on_demand_access,
        groups=accepted.groups,
    )
    state.record_signin(
        SigninRecord(
            kind="embed",
            site=accepted.site_content_url,
            username=accepted.user.name,
            attributes=dict(accepted.attributes),
            jti=accepted.jti,
            kid=accepted.kid,
            client_id=accepted.client_id,
            scopes=accepted.scopes,
            on_demand_access=accepted.on_demand_access,
            groups=accepted.groups,
            origin=origin,
            at=state.clock(),
        )
    )
    return session


def _set_session_cookie(resp: Response, session: EmbedSession) -> None:
    resp.set_cookie(SESSION_COOKIE, session.id, httponly=True, samesite="Lax", path="/")


# ------------------------------------------------------------------------------------ embed sign-in


@embed_bp.route(EMBED_SIGNIN_PATH, methods=["POST", "OPTIONS"])
def embed_signin() -> Response:
    """What ``<tableau-viz token=...>`` calls before loading the iframe."""
    if request.method == "OPTIONS":
        resp = Response(status=204)
        resp.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        resp.headers["Access-Control-Allow-Headers"] = "Content-Type"
        resp.headers["Access-Control-Max-Age"] = "600"
        if request.headers.get("Access-Control-Request-Private-Network") == "true":
            resp.headers["Access-Control-Allow-Private-Network"] = "true"
        return _cors(resp, credentials=True)

    state = current_state()
    fault = state.take_fault("embed_signin")
    if fault == TOKEN_EXPIRED:
        expired = JwtRejectedError("expired", "the token expired before it was redeemed (injected fault)")
        resp = jsonify({"result": {"errors": [expired.to_json()]}})
        resp.status_code = 401
        return _cors(resp, credentials=True)
    if fault is not None:
        return _cors(fault_response(fault, rest=False), credentials=True)
    body = request.get_json(silent=True, force=True)
    site_name = body.get("siteName", "") if isinstance(body, dict) else ""
    token = body.get("jwt") if isinstance(body, dict) else None
    origin = request.headers.get("Origin")
    try:
        if not isinstance(site_name, str):
            raise JwtRejectedError("site_unknown", "siteName must be a string")
        accepted = validate_connected_app_jwt(state, site_name=site_name, token=token, purpose="embed", origin=origin)
    except JwtRejectedError as rejected:
        resp = jsonify({"result": {"errors": [rejected.to_json()]}})
        resp.status_code = 401
        return _cors(resp, credentials=True)
    session = _record_embed_signin(state, accepted, origin)
    site = state.site_view(accepted.site_content_url)
    resp = jsonify(
        {
            "result": {
                "user": {
                    "id": accepted.user.id,
                    "name": accepted.user.name,
                    "siteRole": accepted.user.site_role,
                    "onDemandAccess": accepted.on_demand_access,
                },
                "site": {"id": site.id, "contentUrl": site.content_url, "name": site.name},
            }
        }
    )
    _set_session_cookie(resp, session)
    return _cors(resp, credentials=True)


def _site_from_target(target: str) -> str:
    parts = [p for p in target.split("?", 1)[0].split("/") if p]
    return parts[1] if len(parts) >= 2 and parts[0] == "t" else ""


@embed_bp.get(EMBED_TARGET_PATH)
def embed_target() -> Response:
    """The ``iframe-auth`` flavour: ``?token=<JWT>&target=/t/<site>/views/...`` signs in, then redirects."""
    state = current_state()
    token = request.args.get("token")
    target = request.args.get("target", "")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return _html(render_message("Bad request", "target must be a path on this server"), 400)
    origin = request.headers.get("Origin")
    if not origin and request.referrer:
        ref = urlsplit(request.referrer)
        origin = f"{ref.scheme}://{ref.netloc}" if ref.scheme and ref.netloc else None
    try:
        accepted = validate_connected_app_jwt(
            state, site_name=_site_from_target(target), token=token, purpose="embed", origin=origin
        )
    except JwtRejectedError as rejected:
        return _html(render_message("Sign-in failed", rejected.detail, code=rejected.code), 401)
    session = _record_embed_signin(state, accepted, origin)
    resp = Response(status=302)
    resp.headers["Location"] = target
    _set_session_cookie(resp, session)
    return resp


# -------------------------------------------------------------------------------------------- views


@embed_bp.get("/t/<site>/views/<workbook>/<view>")
def site_view(site: str, workbook: str, view: str) -> Response:
    return _render(site, workbook, view)


@embed_bp.get("/views/<workbook>/<view>")
def default_site_view(workbook: str, view: str) -> Response:
    return _render("", workbook, view)


def _render(site: str, workbook: str, view: str) -> Response:
    state = current_state()
    fault = state.take_fault("view")
    if fault is not None:
        return _html(render_message("Injected fault", fault), FAULT_KINDS[fault])
    session = state.embed_session(request.cookies.get(SESSION_COOKIE))
    if session is None or session.site_content_url != site:
        return _html(
            render_message("Not signed in", f"Sign in to site {site!r} first (no session for this site)."), 401
        )
    site_cfg = state.find_site(site)
    if site_cfg is None or view not in site_cfg.workbooks.get(workbook, ()):
        return _html(render_message("Not found", f"No view {workbook}/{view} on this site."), 404)
    try:
        allow = state.app_view(site, session.client_id).domain_allowlist
    except NotFoundError:
        allow = ()
    page = render_view(
        workbook=workbook,
        view=view,
        session=session,
        rows=site_cfg.rows,
        attribute_name=site_cfg.tenant_attribute,
    )
    return _html(page, 200, frame_ancestors_value=frame_ancestors(allow))


# ------------------------------------------------------------------------------- Embedding API bundle


@embed_bp.get(BUNDLE_ROUTE)
def embedding_bundle() -> Response:
    builder = current_bundle_builder()
    try:
        path = builder()
    except BundleBuildError as exc:
        resp = Response(f"Tableau Embedding API bundle unavailable: {exc}\n", status=503, mimetype="text/plain")
        return _cors(resp, credentials=False)
    resp = send_file(path, mimetype="text/javascript", max_age=0, conditional=True)
    resp.headers["Cache-Control"] = "no-cache"
    return _cors(resp, credentials=False)


# ----------------------------------------------------------------------------------------- admin API


@admin_bp.get("/health")
def health() -> Response:
    return jsonify({"ok": True})


@admin_bp.get("/state")
def get_state() -> Response:
    return jsonify(current_state().snapshot())


@admin_bp.get("/signins")
def get_signins() -> Response:
    return jsonify({"signins": [r.to_json() for r in current_state().signins()]})


@admin_bp.delete("/signins")
def delete_signins() -> Response:
    current_state().clear_signins()
    return Response(status=204)


@admin_bp.get("/errors")
def get_errors() -> Response:
    return jsonify(
        {
            "errors": [
                {"rule": r.name, "code": r.code, "summary": r.summary, "meaning": r.meaning, "appliesTo": r.applies_to}
                for r in ERROR_TABLE
            ]
        }
    )


@admin_bp.get("/faults")
def get_faults() -> Response:
    return jsonify({"faults": current_state().faults()})


@admin_bp.post("/faults")
def post_faults() -> Response:
    """Body: ``{"<operation>": "<kind>", ..., "count": 1}`` (``"count": null`` = until cleared)."""
    body = request.get_json(silent=True, force=True)
    if not isinstance(body, dict):
        return _admin_error("body must be a JSON object")
    count = body.get("count", 1)
    if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
        return _admin_error("count must be an integer or null")
    ops = {k: v for k, v in body.items() if k != "count"}
    if not ops:
        return _admin_error("name at least one operation")
    bad = [f"{op}={kind!r}" for op, kind in ops.items() if op not in FAULT_OPERATIONS or kind not in FAULT_KINDS]
    if bad:
        return _admin_error(
            f"unknown operation or kind: {', '.join(bad)}; operations: {sorted(FAULT_OPERATIONS)}, "
            f"kinds: {sorted(FAULT_KINDS)}"
        )
    state = current_state()
    try:
        for op, kind in ops.items():
            state.inject_fault(op, kind, count)
    except EmulatorError as exc:
        return _admin_error(str(exc))
    return jsonify({"faults": state.faults()})


@admin_bp.delete("/faults")
def delete_faults() -> Response:
    current_state().clear_faults()
    return Response(status=204)


def _admin_error(message: str) -> Response:
    resp = jsonify({"error": message})
    resp.status_code = 400
    return resp
