"""The slice of Tableau's REST API the secret rotation needs: sign-in/out and connected-app secrets.

stdlib only (``urllib``): the Lambda layer carries no ``requests``. JSON bodies, a timeout on every call,
bounded retries on 5xx/429/connection errors for calls that are safe to repeat, no redirects (the auth header
must never follow one). Error text names the operation, the HTTP status and Tableau's error code; any detail
Tableau sends back is scrubbed of the credentials this client knows and of anything shaped like a JWT.

The Tableau admin credentials live in their own secret::

    {"pat_name": "...", "pat_secret": "...", "site_content_url": "...", "tableau_url": "https://...",
     "api_version": "3.21"}
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from tableau_broker.deadline import call_within_deadline
from tableau_broker.errors import ConfigurationError
from tableau_broker.signing_secret import ConnectedAppSecret
from tableau_broker.stored_json import stored_json_object
from tableau_broker.urls import tableau_url_problem

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

DEFAULT_API_VERSION: Final = "3.21"
PATH_FAMILIES: Final = ("connected-applications", "connected-apps/direct-trust")
DEFAULT_PATH_FAMILY: Final = PATH_FAMILIES[0]
AUTH_HEADER: Final = "X-Tableau-Auth"
ADMIN_FIELDS: Final = ("pat_name", "pat_secret", "site_content_url", "tableau_url")
OPTIONAL_ADMIN_FIELDS: Final = ("api_version",)
MAX_DETAIL_CHARS: Final = 200
DEPENDENCY: Final = "tableau"  # how deadline errors name this dependency
_API_VERSION = re.compile(r"^\d+\.\d+$")
_JWT_LIKE = re.compile(r"eyJ[\w-]*\.[\w-]*\.?[\w-]*")

logger = logging.getLogger(__name__)


class AdminSecretError(ConfigurationError):
    """The Tableau admin secret does not have the expected shape. The reason never includes a value."""


@dataclass(frozen=True)
class TableauAdminCredentials:
    pat_name: str
    pat_secret: str = field(repr=False)
    site_content_url: str = ""
    tableau_url: str = ""
    api_version: str = DEFAULT_API_VERSION


def check_tableau_url(url: str, name: str = "tableau_url") -> str:
    url = url.strip().rstrip("/")
    problem = tableau_url_problem(url)
    if problem is not None:
        raise AdminSecretError(f"{name} {problem}")
    return url


def parse_admin_credentials(raw: str | None) -> TableauAdminCredentials:
    """Parse and validate the admin secret's JSON. Errors name the problem, never a value."""
    data = stored_json_object(raw, error=AdminSecretError, what="admin secret")
    missing = [
        name
        for name in ADMIN_FIELDS
        if not isinstance(data.get(name), str) or (name != "site_content_url" and not data[name].strip())
    ]
    if missing:
        raise AdminSecretError(f"admin secret lacks string field(s): {', '.join(missing)}")
    unknown = sorted(set(data) - set(ADMIN_FIELDS) - set(OPTIONAL_ADMIN_FIELDS))
    if unknown:
        raise AdminSecretError(f"admin secret has unexpected field(s): {', '.join(unknown)}")
    api_version = data.get("api_version", DEFAULT_API_VERSION)
    if not isinstance(api_version, str) or not _API_VERSION.match(api_version.strip()):
        raise AdminSecretError("admin secret api_version must look like '3.21'")
    return TableauAdminCredentials(
        pat_name=data["pat_name"].strip(),
        pat_secret=data["pat_secret"],
        site_content_url=data["site_content_url"].strip(),
        tableau_url=check_tableau_url(data["tableau_url"]),
        api_version=api_version.strip(),
    )


def read_admin_credentials(client: SecretsManagerClient, secret_arn: str) -> TableauAdminCredentials:
    """One uncached read of the admin secret's AWSCURRENT stage. Callers map botocore errors."""
    response = client.get_secret_value(SecretId=secret_arn, VersionStage="AWSCURRENT")
    return parse_admin_credentials(response.get("SecretString"))


# --- errors ------------------------------------------------------------------------------------------------


class TableauRestError(Exception):
    """A REST call failed. ``str()`` is safe to log: operation, status, Tableau code, a scrubbed detail."""

    def __init__(self, operation: str, *, status: int | None = None, code: str | None = None, detail: str = "") -> None:
        self.operation = operation
        self.status = status
        self.code = code
        self.detail = detail
        parts = [f"Tableau REST {operation} failed"]
        parts.append("no HTTP response" if status is None else f"HTTP {status}")
        if code:
            parts.append(f"Tableau error {code}")
        message = ": ".join([parts[0], ", ".join(parts[1:])])
        super().__init__(f"{message} ({detail})" if detail else message)

    @property
    def transient(self) -> bool:
        return self.status is None or self.status == 429 or self.status >= 500


class TableauUnreachable(TableauRestError):
    """No HTTP answer at all: DNS, refused connection, TLS failure, timeout."""


def scrub(text: str, sensitive: tuple[str, ...]) -> str:
    """Remove known credentials and anything shaped like a JWT, then cap the length."""
    for value in sensitive:
        if value:
            text = text.replace(value, "[redacted]")
    text = _JWT_LIKE.sub("[redacted-jwt]", text)
    text = " ".join(text.split())
    return text if len(text) <= MAX_DETAIL_CHARS else text[: MAX_DETAIL_CHARS - 1] + "…"


# --- the client --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RestSession:
    token: str = field(repr=False)
    site_id: str
    user_id: str
    site_content_url: str


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx surfaces as an HTTPError: the auth header never travels to another location


Sleep = Callable[[float], None]


class TableauRestClient:
    """One Tableau server (or Cloud pod) at one API version. Thread-compatible, not shared between threads."""

    def __init__(
        self,
        base_url: str,
        api_version: str = DEFAULT_API_VERSION,
        *,
        path_family: str = DEFAULT_PATH_FAMILY,
        timeout_seconds: float = 10.0,
        max_attempts: int = 3,
        backoff_seconds: float = 0.5,
        sleep: Sleep = time.sleep,
    ) -> None:
        if path_family not in PATH_FAMILIES:
            raise ConfigurationError(f"connected-app path family must be one of {', '.join(PATH_FAMILIES)}")
        if not _API_VERSION.match(api_version):
            raise ConfigurationError("Tableau REST API version must look like '3.21'")
        self.base_url = check_tableau_url(base_url)
        self.api_version = api_version
        self.path_family = path_family
        self.timeout_seconds = timeout_seconds
        self.max_attempts = max(1, max_attempts)
        self.backoff_seconds = backoff_seconds
        self._sleep = sleep
        self._opener = urllib.request.build_opener(_NoRedirect)
        self._sensitive: tuple[str, ...] = ()

    @classmethod
    def for_admin(cls, credentials: TableauAdminCredentials, **options: Any) -> TableauRestClient:
        return cls(credentials.tableau_url, credentials.api_version, **options)

    # --- HTTP ----------------------------------------------------------------------------------------------
    def _url(self, path: str) -> str:
        return f"{self.base_url}/api/{self.api_version}{path}"

    def _app_path(self, session: RestSession, client_id: str) -> str:
        return f"/sites/{session.site_id}/{self.path_family}/{client_id}"

    def _remember(self, *values: str) -> None:
        self._sensitive = tuple(dict.fromkeys((*self._sensitive, *(v for v in values if v))))

    def _once(
        self,
        operation: str,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        auth: str | None,
        timeout: float,
    ) -> tuple[int, Any]:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode("utf-8")
        if auth is not None:
            headers[AUTH_HEADER] = auth
        request = urllib.request.Request(self._url(path), data=data, headers=headers, method=method)  # noqa: S310
        try:
            with self._opener.open(request, timeout=timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, _read_error_body(exc)
            code, detail = _tableau_error(raw)
            raise TableauRestError(operation, status=status, code=code, detail=scrub(detail, self._sensitive)) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TableauUnreachable(operation, detail=scrub(type(reason).__name__, self._sensitive)) from None
        if not raw:
            return status, None
        try:
            return status, json.loads(raw)
        except ValueError:
            raise TableauRestError(operation, status=status, detail="response is not JSON") from None

    def _call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
        auth: str | None = None,
        retry: bool = True,
    ) -> Any:
        """``body`` may be a callable: it is called once per attempt (a fresh JWT for each sign-in try).

        Each attempt waits at most ``timeout_seconds``, or what the invocation's deadline leaves if that is
        less; with too little left for an attempt, ``DeadlineExceeded`` names Tableau instead. A retry (and
        the back-off before it) is started only when it can still finish before the deadline."""

        def attempt(timeout: float) -> Any:
            payload = body() if callable(body) else body
            return self._once(operation, method, path, payload, auth, timeout)[1]

        def on_retry(exc: Exception, attempt_number: int, delay: float | None) -> None:
            status = getattr(exc, "status", None)
            if delay is None:
                logger.warning(
                    "tableau call not retried: the invocation's deadline is too close",
                    extra={"operation": operation, "status": status, "attempt": attempt_number},
                )
            else:
                logger.warning(
                    "tableau call retried",
                    extra={"operation": operation, "status": status, "attempt": attempt_number, "delay_s": delay},
                )

        return call_within_deadline(
            attempt,
            dependency=DEPENDENCY,
            cap_seconds=self.timeout_seconds,
            max_attempts=self.max_attempts if retry else 1,
            retryable=lambda exc: isinstance(exc, TableauRestError) and exc.transient,
            pause_seconds=lambda n: min(self.backoff_seconds * 2 ** (n - 1), 4.0),
            sleep=self._sleep,
            on_retry=on_retry,
        )

    # --- authentication ------------------------------------------------------------------------------------
    def _session(self, operation: str, answer: Any) -> RestSession:
        try:
            creds = answer["credentials"]
            session = RestSession(
                token=str(creds["token"]),
                site_id=str(creds["site"]["id"]),
                user_id=str(creds["user"]["id"]),
                site_content_url=str(creds["site"].get("contentUrl", "")),
            )
        except (KeyError, TypeError):
            raise TableauRestError(operation, detail="sign-in response lacks credentials") from None
        self._remember(session.token)
        return session

    def sign_in_with_pat(self, credentials: TableauAdminCredentials) -> RestSession:
        self._remember(credentials.pat_secret)
        body = {
            "credentials": {
                "personalAccessTokenName": credentials.pat_name,
                "personalAccessTokenSecret": credentials.pat_secret,
                "site": {"contentUrl": credentials.site_content_url},
            }
        }
        return self._session("sign-in (PAT)", self._call("sign-in (PAT)", "POST", "/auth/signin", body=body))

    def sign_in_with_jwt(self, mint: Callable[[], str], site_content_url: str) -> RestSession:
        """``mint`` returns a fresh connected-app JWT with a REST scope; it is called once per attempt."""

        def body() -> Mapping[str, Any]:
            token = mint()
            self._remember(token)
            return {"credentials": {"jwt": token, "site": {"contentUrl": site_content_url}}}

        return self._session("sign-in (JWT)", self._call("sign-in (JWT)", "POST", "/auth/signin", body=body))

    def sign_out(self, session: RestSession) -> None:
        self._call("sign-out", "POST", "/auth/signout", auth=session.token, retry=False)

    @contextlib.contextmanager
    def admin_session(self, credentials: TableauAdminCredentials) -> Iterator[RestSession]:
        """Signed in with the admin PAT for the block; signed out after it, whatever happens."""
        session = self.sign_in_with_pat(credentials)
        try:
            yield session
        finally:
            self.quiet_sign_out(session)

    def quiet_sign_out(self, session: RestSession) -> None:
        """Sign out, logging (not raising) a failure: it must never mask the error that ended the block."""
        try:
            self.sign_out(session)
        except TableauRestError as exc:
            logger.warning("tableau sign-out failed", extra={"status": exc.status, "code": exc.code})

    # --- connected-app secrets -----------------------------------------------------------------------------
    def connected_app_secret_ids(self, session: RestSession, client_id: str) -> list[str] | None:
        """The app's secret IDs, or ``None`` when the app's answer carries no secret list (an [open] point of
        Tableau's API: callers then fall back to the IDs they know)."""
        answer = self._call("get connected app", "GET", self._app_path(session, client_id), auth=session.token)
        app = _first(answer, "connectedApplication", "connectedApp")
        secrets = app.get("secrets") if isinstance(app, dict) else None
        if isinstance(secrets, dict):  # XML-to-JSON style {"secret": [...]}
            secrets = secrets.get("secret") or secrets.get("connectedApplicationSecret")
        if not isinstance(secrets, list):
            return None
        return [str(s["id"]) for s in secrets if isinstance(s, dict) and s.get("id")]

    def _on_secret(
        self,
        operation: str,
        method: str,
        session: RestSession,
        client_id: str,
        secret_id: str,
        *,
        unknown_app_is_error: bool,
    ) -> bool:
        """``False`` when Tableau answers 404 for the secret. With ``unknown_app_is_error``, Tableau's 404126 (the
        connected app itself is unknown) is raised instead."""
        try:
            self._call(
                operation, method, f"{self._app_path(session, client_id)}/secrets/{secret_id}", auth=session.token
            )
        except TableauRestError as exc:
            if exc.status == 404 and not (unknown_app_is_error and exc.code == "404126"):
                return False
            raise
        return True

    def connected_app_secret_exists(self, session: RestSession, client_id: str, secret_id: str) -> bool:
        return self._on_secret(
            "get connected-app secret", "GET", session, client_id, secret_id, unknown_app_is_error=False
        )

    def create_connected_app_secret(self, session: RestSession, client_id: str) -> ConnectedAppSecret:
        """Never retried: a repeat after an ambiguous failure would add a secret nobody recorded."""
        answer = self._call(
            "create connected-app secret",
            "POST",
            f"{self._app_path(session, client_id)}/secrets",
            body={},
            auth=session.token,
            retry=False,
        )
        created = _first(answer, "connectedApplicationSecret", "connectedAppSecret")
        if not isinstance(created, dict) or not created.get("id") or not created.get("value"):
            raise TableauRestError("create connected-app secret", detail="response lacks the secret id or value")
        self._remember(str(created["value"]))
        return ConnectedAppSecret(client_id=client_id, secret_id=str(created["id"]), secret_value=str(created["value"]))

    def delete_connected_app_secret(self, session: RestSession, client_id: str, secret_id: str) -> bool:
        """``True`` when deleted, ``False`` when it was already gone (a retried delete)."""
        return self._on_secret(
            "delete connected-app secret", "DELETE", session, client_id, secret_id, unknown_app_is_error=True
        )


@dataclass(frozen=True)
class AdminConnection:
    """A REST client for the admin secret's Tableau and a session signed in with its PAT."""

    rest: TableauRestClient
    session: RestSession
    credentials: TableauAdminCredentials


@contextlib.contextmanager
def admin_connection(
    secrets: SecretsManagerClient, admin_secret_arn: str, **rest_options: Any
) -> Iterator[AdminConnection]:
    """Read the Tableau admin secret, build the REST client (``rest_options`` as ``TableauRestClient`` takes
    them) and sign in with the PAT for the block; signed out after it, whatever happens."""
    credentials = read_admin_credentials(secrets, admin_secret_arn)
    rest = TableauRestClient.for_admin(credentials, **rest_options)
    with rest.admin_session(credentials) as session:
        yield AdminConnection(rest, session, credentials)


def _first(answer: Any, *keys: str) -> Any:
    if not isinstance(answer, dict):
        return None
    return next((answer[k] for k in keys if k in answer), None)


def _read_error_body(exc: urllib.error.HTTPError) -> bytes:
    try:
        return exc.read() or b""
    except OSError:
        return b""


def _tableau_error(raw: bytes) -> tuple[str | None, str]:
    """Tableau's envelope ``{"error": {"code", "summary", "detail"}}``; anything else yields no detail."""
    try:
        data = json.loads(raw)
    except ValueError:
        return None, ""
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return None, ""
    code = error.get("code")
    text = " - ".join(str(error[k]) for k in ("summary", "detail") if isinstance(error.get(k), str) and error[k])
    return (str(code) if code is not None else None), text
