"""A local API Gateway HTTP API built from template.yaml: routes, JWT authorizer, CORS and throttling.

``sam local start-api`` needs Docker and skips JWT authorizers; this runs the real handler in-process
behind the same checks API Gateway makes (signature against the pool's JWKS, ``iss``, ``exp``/``nbf``,
``aud``/``client_id`` in the audience list) and hands it a payload-v2 event with the claims as strings.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from werkzeug.datastructures import Headers
from werkzeug.wrappers import Request, Response

from local_stack.route_faults import FAULTS_PATH, RouteFaults
from sam_local.lambda_runtime import LocalFunction
from sam_local.template import Tag, Template

Clock = Callable[[], float]


@dataclass(frozen=True)
class JwtAuthorizer:
    issuer: str
    audience: frozenset[str]
    jwks_url: str
    identity_header: str


@dataclass(frozen=True)
class Cors:
    allow_origins: frozenset[str]
    allow_methods: frozenset[str]
    allow_headers: frozenset[str]
    expose_headers: frozenset[str]
    max_age: int
    allow_credentials: bool

    def origin_allowed(self, origin: str | None) -> bool:
        return origin is not None and (origin in self.allow_origins or "*" in self.allow_origins)


@dataclass
class Route:
    key: str
    function: LocalFunction
    authorizer: JwtAuthorizer | None
    bucket: TokenBucket | None


class TokenBucket:
    """API Gateway's route throttling: ``rate`` requests per second with bursts up to ``burst``."""

    def __init__(self, rate: float, burst: int, clock: Clock = time.monotonic) -> None:
        self.rate, self.burst, self._clock = rate, burst, clock
        self._tokens = float(burst)
        self._last = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True


def _json(status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=dict(headers or {}), content_type="application/json")


def gateway_claim_value(value: Any) -> str:
    """HTTP API hands claims to the integration as strings; arrays become ``[a b c]``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(str(v) for v in value) + "]"
    return str(value)


class LocalHttpApi:
    def __init__(
        self,
        template: Template,
        refs: Mapping[str, Any],
        *,
        jwks_url: str,
        api_logical_id: str = "HttpApi",
        clock: Clock = time.time,
        faults: RouteFaults | None = None,
    ) -> None:
        self._clock = clock
        self.faults = faults  # local-only test control (route_faults.py); None: no /_local/faults endpoint
        props = template.properties(api_logical_id)
        resolved = template.resolve(props, {**template.parameter_values(), **refs})
        auth = resolved.get("Auth", {})
        authorizers: dict[str, JwtAuthorizer] = {}
        for name, spec in auth.get("Authorizers", {}).items():
            jwt_config = spec["JwtConfiguration"]
            authorizers[name] = JwtAuthorizer(
                issuer=str(jwt_config["issuer"]),
                audience=frozenset(jwt_config["audience"]),
                jwks_url=jwks_url,
                identity_header=str(spec.get("IdentitySource", "$request.header.Authorization")).rsplit(".", 1)[-1],
            )
        default_authorizer = auth.get("DefaultAuthorizer")
        cors = resolved.get("CorsConfiguration") or {}
        self.cors = Cors(
            allow_origins=frozenset(cors.get("AllowOrigins", [])),
            allow_methods=frozenset(m.upper() for m in cors.get("AllowMethods", [])),
            allow_headers=frozenset(h.lower() for h in cors.get("AllowHeaders", [])),
            expose_headers=frozenset(h.lower() for h in cors.get("ExposeHeaders", [])),
            max_age=int(cors.get("MaxAge", 0)),
            allow_credentials=bool(cors.get("AllowCredentials", False)),
        )
        route_settings = resolved.get("RouteSettings", {})
        default_settings = resolved.get("DefaultRouteSettings", {})
        self.routes: dict[str, Route] = {}
        for logical_id, resource in template.doc["Resources"].items():
            if resource.get("Type") != "AWS::Serverless::Function":
                continue
            function = LocalFunction(logical_id, resource["Properties"]["Handler"])
            for event in resource["Properties"].get("Events", {}).values():
                event_props = event.get("Properties", {})
                if event.get("Type") != "HttpApi" or event_props.get("ApiId") != Tag("Ref", api_logical_id):
                    continue
                key = f"{event_props['Method'].upper()} {event_props['Path']}"
                authorizer_name = event_props.get("Auth", {}).get("Authorizer", default_authorizer)
                settings = {**default_settings, **route_settings.get(key, {})}
                bucket = None
                if "ThrottlingRateLimit" in settings:
                    bucket = TokenBucket(float(settings["ThrottlingRateLimit"]), int(settings["ThrottlingBurstLimit"]))
                self.routes[key] = Route(
                    key=key,
                    function=function,
                    authorizer=None if authorizer_name in (None, "NONE") else authorizers[authorizer_name],
                    bucket=bucket,
                )
        self._jwk_clients: dict[str, jwt.PyJWKClient] = {}

    # --- the authorizer -----------------------------------------------------------------------------------
    def _jwk_client(self, url: str) -> jwt.PyJWKClient:
        if url not in self._jwk_clients:
            self._jwk_clients[url] = jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=5)
        return self._jwk_clients[url]

    def authorize(self, authorizer: JwtAuthorizer, header_value: str | None) -> dict[str, Any] | None:
        if not header_value:
            return None
        token = header_value.strip()
        if token.lower().startswith("bearer "):
            token = token[7:].strip()
        try:
            key = self._jwk_client(authorizer.jwks_url).get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                issuer=authorizer.issuer,
                options={"verify_aud": False, "require": ["exp", "iss"]},
                leeway=0,
            )
        except jwt.PyJWTError:
            return None
        audience = claims.get("aud", claims.get("client_id"))
        audiences = audience if isinstance(audience, list) else [audience]
        if not any(a in authorizer.audience for a in audiences):
            return None
        return claims

    # --- the WSGI app ---------------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        origin = request.headers.get("Origin")
        if self.faults is not None and request.path == FAULTS_PATH:
            return self.faults.admin(request, self.routes)
        if request.method == "OPTIONS" and request.headers.get("Access-Control-Request-Method"):
            return self._preflight(request, origin)
        route = self.routes.get(f"{request.method} {request.path}")
        injected = None if route is None or self.faults is None else self.faults.arrive(route.key)
        if route is None:
            response = _json(404, {"message": "Not Found"})
        elif route.bucket is not None and not route.bucket.take():
            response = _json(429, {"message": "Too Many Requests"})
        elif injected is not None:
            response = self._to_response(injected)
        else:
            response = self._invoke(route, request)
        if self.cors.origin_allowed(origin):
            response.headers["Access-Control-Allow-Origin"] = origin or ""
            response.headers["Vary"] = "Origin"
            if self.cors.allow_credentials:
                response.headers["Access-Control-Allow-Credentials"] = "true"
            if self.cors.expose_headers:  # API Gateway adds it to every CORS response, not to preflights
                response.headers["Access-Control-Expose-Headers"] = ",".join(sorted(self.cors.expose_headers))
        return response

    def _preflight(self, request: Request, origin: str | None) -> Response:
        response = Response(status=204)
        method = (request.headers.get("Access-Control-Request-Method") or "").upper()
        asked = {h.strip().lower() for h in (request.headers.get("Access-Control-Request-Headers") or "").split(",")}
        asked.discard("")
        if self.cors.origin_allowed(origin) and method in self.cors.allow_methods and asked <= self.cors.allow_headers:
            response.headers["Access-Control-Allow-Origin"] = origin or ""
            response.headers["Access-Control-Allow-Methods"] = ",".join(sorted(self.cors.allow_methods))
            response.headers["Access-Control-Allow-Headers"] = ",".join(sorted(self.cors.allow_headers))
            response.headers["Access-Control-Max-Age"] = str(self.cors.max_age)
            response.headers["Vary"] = "Origin"
        return response

    def _invoke(self, route: Route, request: Request) -> Response:
        claims: dict[str, Any] | None = None
        if route.authorizer is not None:
            claims = self.authorize(route.authorizer, request.headers.get(route.authorizer.identity_header))
            if claims is None:
                return _json(401, {"message": "Unauthorized"}, {"www-authenticate": 'Bearer error="invalid_token"'})
        event = self.build_event(route, request, claims)
        try:
            result = route.function.invoke(event)
        except Exception:  # noqa: BLE001 - API Gateway turns any integration failure into this
            return _json(500, {"message": "Internal Server Error"})
        return self._to_response(result)

    def build_event(self, route: Route, request: Request, claims: Mapping[str, Any] | None) -> dict[str, Any]:
        now = self._clock()
        body_bytes = request.get_data(cache=False)
        try:
            body: str | None = body_bytes.decode("utf-8") if body_bytes else None
            is_base64 = False
        except UnicodeDecodeError:
            body, is_base64 = base64.b64encode(body_bytes).decode("ascii"), True
        headers = _joined_headers(request.headers)
        context: dict[str, Any] = {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": request.host,
            "domainPrefix": request.host.split(".")[0],
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "sourceIp": request.remote_addr or "127.0.0.1",
                "userAgent": request.headers.get("User-Agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route.key,
            "stage": "$default",
            "time": datetime.fromtimestamp(now, tz=UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now * 1000),
        }
        if claims is not None:
            scope = claims.get("scope")
            context["authorizer"] = {
                "jwt": {
                    "claims": {k: gateway_claim_value(v) for k, v in claims.items()},
                    "scopes": scope.split() if isinstance(scope, str) else None,
                }
            }
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route.key,
            "rawPath": request.path,
            "rawQueryString": request.query_string.decode("latin-1"),
            "headers": headers,
            "requestContext": context,
            "isBase64Encoded": is_base64,
        }
        if request.args:
            event["queryStringParameters"] = {k: ",".join(request.args.getlist(k)) for k in request.args}
        if request.cookies:
            event["cookies"] = [f"{k}={v}" for k, v in request.cookies.items()]
        if body is not None:
            event["body"] = body
        return event

    @staticmethod
    def _to_response(result: Any) -> Response:
        if not isinstance(result, dict) or "statusCode" not in result:
            return _json(200, result if isinstance(result, dict) else {"result": result})
        body = result.get("body") or ""
        data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
        response = Response(data, status=int(result["statusCode"]))
        for name, value in (result.get("headers") or {}).items():
            response.headers[name] = str(value)
        for cookie in result.get("cookies") or []:
            response.headers.add("Set-Cookie", cookie)
        return response


def _joined_headers(headers: Headers) -> dict[str, str]:
    joined: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    return joined
