"""The shared layer's Tableau REST client against the Tableau emulator over real HTTP."""

from __future__ import annotations

import contextlib
import secrets
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tableau_broker.deadline import Deadline, DeadlineExceeded, deadline_scope
from tableau_broker.scopes import REST_SIGN_IN
from tableau_broker.signing_secret import ConnectedAppSecret
from tableau_broker.tableau_jwt import mint_token
from tableau_broker.tableau_rest import (
    TableauAdminCredentials,
    TableauRestClient,
    TableauRestError,
    TableauUnreachable,
)
from tableau_emulator import EmulatorServer, EmulatorState, serve

SITE = "acme"
SILENT_SERVER_HOLD_SECONDS = 120.0  # far beyond any deadline a test sets; the server closes sooner when asked
ADMIN = "admin@acme.test"
VIEWER = "viewer@acme.test"


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a server that accepts connections, reads nothing and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    stop = threading.Event()
    held: list[socket.socket] = []

    def accept() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=SILENT_SERVER_HOLD_SECONDS)
        for connection in held:
            connection.close()
        listener.close()


@dataclass
class Tableau:
    state: EmulatorState
    server: EmulatorServer
    admin: TableauAdminCredentials
    viewer: TableauAdminCredentials
    app: ConnectedAppSecret
    sleeps: list[float]

    def client(self, **options: object) -> TableauRestClient:
        return TableauRestClient(self.server.url, "3.21", sleep=self.sleeps.append, **options)  # type: ignore[arg-type]

    def ids(self) -> list[str]:
        return self.state.secret_ids(SITE, self.app.client_id)


@pytest.fixture
def tableau() -> Iterator[Tableau]:
    state = EmulatorState()
    state.add_site(SITE)
    state.add_user(SITE, ADMIN, "SiteAdministratorCreator")
    state.add_user(SITE, VIEWER, "Viewer")
    admin_pat = state.add_pat(SITE, ADMIN, "rotation")
    viewer_pat = state.add_pat(SITE, VIEWER, "viewer")
    app = state.add_connected_app(SITE, "token-broker")
    first = app.secrets[0]
    with serve(state) as server:
        yield Tableau(
            state,
            server,
            TableauAdminCredentials("rotation", admin_pat, SITE, server.url),
            TableauAdminCredentials("viewer", viewer_pat, SITE, server.url),
            ConnectedAppSecret(app.client_id, first.id, first.value),
            [],
        )


@pytest.mark.parametrize("family", ["connected-applications", "connected-apps/direct-trust"])
def test_secret_lifecycle_on_both_path_families(tableau: Tableau, family: str) -> None:
    rest = tableau.client(path_family=family)
    with rest.admin_session(tableau.admin) as session:
        assert rest.connected_app_secret_ids(session, tableau.app.client_id) == [tableau.app.secret_id]
        created = rest.create_connected_app_secret(session, tableau.app.client_id)
        assert created.client_id == tableau.app.client_id
        assert rest.connected_app_secret_ids(session, tableau.app.client_id) == [
            tableau.app.secret_id,
            created.secret_id,
        ]
        assert rest.connected_app_secret_exists(session, tableau.app.client_id, created.secret_id)
        assert rest.delete_connected_app_secret(session, tableau.app.client_id, tableau.app.secret_id) is True
        assert rest.delete_connected_app_secret(session, tableau.app.client_id, tableau.app.secret_id) is False
        assert not rest.connected_app_secret_exists(session, tableau.app.client_id, tableau.app.secret_id)
    assert tableau.ids() == [created.secret_id]
    assert tableau.state.snapshot()["restSessions"] == 0  # signed out after the block


def test_signed_out_even_when_the_block_fails(tableau: Tableau) -> None:
    rest = tableau.client()
    with pytest.raises(RuntimeError), rest.admin_session(tableau.admin):
        raise RuntimeError("boom")
    assert tableau.state.snapshot()["restSessions"] == 0


def test_transient_failures_are_retried_with_backoff(tableau: Tableau) -> None:
    tableau.state.inject_fault("rest_signin", "unavailable", count=2)
    rest = tableau.client(max_attempts=3)
    session = rest.sign_in_with_pat(tableau.admin)
    assert tableau.sleeps == [0.5, 1.0]
    tableau.state.inject_fault("get_app", "rate_limited", count=1)
    assert rest.connected_app_secret_ids(session, tableau.app.client_id) == [tableau.app.secret_id]


def test_retries_are_bounded(tableau: Tableau) -> None:
    tableau.state.inject_fault("rest_signin", "server_error", count=None)
    with pytest.raises(TableauRestError) as failure:
        tableau.client(max_attempts=3).sign_in_with_pat(tableau.admin)
    assert failure.value.status == 500
    assert len(tableau.sleeps) == 2


def test_client_errors_are_not_retried(tableau: Tableau) -> None:
    wrong = TableauAdminCredentials("rotation", "wrong-" + secrets.token_urlsafe(16), SITE, tableau.server.url)
    with pytest.raises(TableauRestError) as failure:
        tableau.client().sign_in_with_pat(wrong)
    assert (failure.value.status, failure.value.code) == (401, "401001")
    assert tableau.sleeps == []
    assert wrong.pat_secret not in _everything(failure.value)


def test_creating_a_secret_is_never_retried(tableau: Tableau) -> None:
    # An ambiguous failure (created, then 500): a retry would add a third secret nobody recorded
    rest = tableau.client()
    with rest.admin_session(tableau.admin) as session:
        tableau.state.inject_fault("create_secret", "server_error_after_commit")
        with pytest.raises(TableauRestError) as failure:
            rest.create_connected_app_secret(session, tableau.app.client_id)
    assert failure.value.status == 500
    assert len(tableau.ids()) == 2
    assert tableau.sleeps == []


def test_a_retried_delete_that_already_happened_counts_as_done(tableau: Tableau) -> None:
    rest = tableau.client()
    with rest.admin_session(tableau.admin) as session:
        created = rest.create_connected_app_secret(session, tableau.app.client_id)
        tableau.state.inject_fault("delete_secret", "server_error_after_commit")
        assert rest.delete_connected_app_secret(session, tableau.app.client_id, created.secret_id) is False
    assert tableau.ids() == [tableau.app.secret_id]
    assert tableau.sleeps == [0.5]


def test_a_non_admin_cannot_manage_secrets(tableau: Tableau) -> None:
    rest = tableau.client()
    with rest.admin_session(tableau.viewer) as session, pytest.raises(TableauRestError) as failure:
        rest.create_connected_app_secret(session, tableau.app.client_id)
    assert (failure.value.status, failure.value.code) == (403, "403000")
    assert tableau.ids() == [tableau.app.secret_id]


def test_jwt_sign_in_mints_a_fresh_token_per_attempt_and_never_reports_it(tableau: Tableau) -> None:
    minted: list[str] = []

    def mint(username: str = VIEWER) -> str:
        token = mint_token(
            tableau.app, username=username, scopes=["tableau:content:read"], attributes={}, lifetime_seconds=60,
            now=tableau.state.clock(), kind=REST_SIGN_IN,
        ).token  # fmt: skip
        minted.append(token)
        return token

    tableau.state.inject_fault("rest_signin", "unavailable", count=1)
    rest = tableau.client()
    session = rest.sign_in_with_jwt(mint, SITE)
    rest.sign_out(session)
    assert len(set(minted)) == 2

    with pytest.raises(TableauRestError) as refused:
        rest.sign_in_with_jwt(lambda: mint("nobody@acme.test"), SITE)
    assert refused.value.status == 401 and "user_unknown" in str(refused.value)
    for token in minted:
        assert token not in _everything(refused.value)
    assert tableau.app.secret_value not in _everything(refused.value)


def test_an_unreachable_tableau(tableau: Tableau) -> None:
    # Bound but never listening: connections are refused, and no other process can take the port meanwhile.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        rest = TableauRestClient(f"http://127.0.0.1:{port}", sleep=tableau.sleeps.append, max_attempts=2)
        with pytest.raises(TableauUnreachable) as failure:
            rest.sign_in_with_pat(tableau.admin)
    assert "no HTTP response" in str(failure.value)
    assert tableau.admin.pat_secret not in _everything(failure.value)
    assert tableau.sleeps == [0.5]


def test_a_silent_tableau_fails_before_the_invocation_deadline(tableau: Tableau) -> None:
    # Given an invocation with one second left and a client whose own timeout is ten seconds per attempt
    with silent_server() as url, deadline_scope(Deadline.after(1.0)):
        rest = TableauRestClient(url, timeout_seconds=10, max_attempts=3, sleep=tableau.sleeps.append)
        started = time.monotonic()
        # When Tableau accepts the connection and never answers
        with pytest.raises((TableauUnreachable, DeadlineExceeded)) as failure:
            rest.sign_in_with_pat(tableau.admin)
        elapsed = time.monotonic() - started
    # Then the call gives up within the deadline (not after 3 x 10 s), names Tableau, and leaks nothing
    assert elapsed < 2.0
    assert "Tableau" in str(failure.value) or "tableau" in str(failure.value)
    assert tableau.sleeps == []  # no back-off that could not be followed by an attempt
    assert tableau.admin.pat_secret not in _everything(failure.value)


def test_no_retry_is_started_that_cannot_finish_before_the_deadline(tableau: Tableau) -> None:
    tableau.state.inject_fault("rest_signin", "server_error", count=None)
    rest = tableau.client(max_attempts=3)
    # 0.6 s left: after the first 500, a 0.5 s back-off plus a minimal attempt no longer fits
    with deadline_scope(Deadline.after(0.6)), pytest.raises(TableauRestError) as failure:
        rest.sign_in_with_pat(tableau.admin)
    assert failure.value.status == 500
    assert tableau.sleeps == []


def test_no_attempt_is_made_without_time_for_one(tableau: Tableau) -> None:
    with deadline_scope(Deadline.after(0.1)), pytest.raises(DeadlineExceeded) as failure:
        tableau.client().sign_in_with_pat(tableau.admin)
    assert failure.value.dependency == "tableau"
    assert str(failure.value) == "tableau_deadline_exceeded"
    assert tableau.state.snapshot()["restSessions"] == 0


def test_an_unknown_app_is_an_error_even_for_delete(tableau: Tableau) -> None:
    rest = tableau.client()
    unknown = str(uuid.uuid4())
    with rest.admin_session(tableau.admin) as session:
        with pytest.raises(TableauRestError) as listing:
            rest.connected_app_secret_ids(session, unknown)
        with pytest.raises(TableauRestError) as deleting:
            rest.delete_connected_app_secret(session, unknown, tableau.app.secret_id)
    assert (listing.value.status, listing.value.code) == (404, "404126")
    assert (deleting.value.status, deleting.value.code) == (404, "404126")


def _everything(exc: BaseException) -> str:
    return "".join([str(exc), repr(exc), *traceback.format_exception(exc)])


def test_admin_connection_reads_the_secret_signs_in_and_always_signs_out(tableau: Tableau) -> None:
    """The one helper behind every admin session: credentials from Secrets Manager, a PAT session for the block,
    signed out after it even when the block fails."""
    import json

    import boto3
    from moto import mock_aws

    from tableau_broker.tableau_rest import admin_connection

    admin = tableau.admin
    with mock_aws():
        sm = boto3.client("secretsmanager", region_name="us-east-1")
        arn = sm.create_secret(
            Name="tableau-admin",
            SecretString=json.dumps(
                {
                    "pat_name": admin.pat_name,
                    "pat_secret": admin.pat_secret,
                    "site_content_url": admin.site_content_url,
                    "tableau_url": admin.tableau_url,
                }
            ),
        )["ARN"]
        with admin_connection(sm, arn, max_attempts=1) as connection:
            assert connection.credentials == admin
            assert connection.rest.connected_app_secret_ids(connection.session, tableau.app.client_id) == tableau.ids()
        with pytest.raises(TableauRestError) as signed_out:
            connection.rest.connected_app_secret_ids(connection.session, tableau.app.client_id)
        assert signed_out.value.status == 401

        with pytest.raises(RuntimeError), admin_connection(sm, arn, max_attempts=1) as failing:
            raise RuntimeError("the block failed")
        with pytest.raises(TableauRestError) as after_failure:
            failing.rest.connected_app_secret_ids(failing.session, tableau.app.client_id)
        assert after_failure.value.status == 401
