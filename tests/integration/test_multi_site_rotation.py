"""A second Tableau site, declared with the template's ``AdditionalTableauSites``, rotates on its own.

Two sites in one Tableau emulator, each with its own connected app, site administrator and PAT. The secrets are
created as the template declares them (the site's secret under the name the template gives it), the site's
rotation runs through the real ``lambda_handler`` with the environment the template gives *that site's* rotation
function, and the broker - configured from the same template - mints tokens for a tenant on the second site before
and after.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import jwt
import pytest
import requests
from moto.secretsmanager.models import SecretsManagerBackend

from local_stack import secretsmanager_rules
from local_stack.rotate import (
    ADMIN_SECRET_NAME,
    STEP_ORDER,
    admin_secret_json,
    begin_rotation,
    create_admin_secret,
    install_rotation_lambda_stub,
    rotation_event,
)
from sam_local import aws_resources
from sam_local.lambda_runtime import LocalLambdaContext
from sam_local.template import Template
from secret_rotation import handler as rotation
from tableau_broker.rotation import AWSCURRENT, AWSPENDING, AWSPREVIOUS
from tableau_broker.signing_secret import ConnectedAppSecret, read_connected_app_secret
from tableau_emulator import EMBED_SIGNIN_PATH, EmulatorServer, EmulatorState, serve
from tests.support import rotation_world
from tests.support.broker_stack import PASSWORD, BrokerStack, build_broker_stack
from tests.support.broker_stack import TestUser as StackUser  # not a test class
from tests.support.rotation_world import ORIGIN, PAT_NAME, TEST_USER, FakeClock

# The rotation world's module fixture: moto's Lambda goes back to Docker after this module.
docker_free_lambda = rotation_world.docker_free_lambda

SITES = {"AdditionalTableauSites": "Emea"}
FIRST_SITE, SECOND_SITE = "analytics", "emea"  # Tableau content URLs
FIRST_ADMIN, SECOND_ADMIN = "admin@analytics.test", "admin@emea.test"
TENANT, TENANT_VIEWER = "umbrella", "viewer@emea.test"


@dataclass
class TwoSites:
    stack: BrokerStack
    state: EmulatorState
    server: EmulatorServer
    template: Template
    first_secret_arn: str
    first_admin_pat: str
    second: ConnectedAppSecret
    second_secret_name: str
    second_secret_arn: str
    second_admin_arn: str
    second_function_arn: str

    def stages(self, secret: str) -> dict[str, list[str]]:
        stages: dict[str, list[str]] = self.stack.secretsmanager.describe_secret(SecretId=secret)["VersionIdsToStages"]
        return stages

    def version(self, secret: str, stage: str) -> str | None:
        return next((v for v, s in self.stages(secret).items() if stage in s), None)

    def stage_secret(self, secret: str, stage: str) -> ConnectedAppSecret:
        return read_connected_app_secret(self.stack.secretsmanager, secret, stage=stage)

    def broker_token(self) -> str:
        status, _headers, body = self.stack.invoke(self.stack.http_event(self.stack.claims(TENANT)))
        assert status == 200, body
        assert body["tableau"] == {"url": self.server.url, "site": SECOND_SITE}
        token: str = body["token"]
        return token

    def embed_status(self, token: str) -> int:
        """A viz load on the second site as the browser does it, with the broker's token."""
        response = requests.post(
            f"{self.server.url}{EMBED_SIGNIN_PATH}",
            json={"siteName": SECOND_SITE, "jwt": token},
            headers={"Origin": ORIGIN},
            timeout=10,
        )
        return response.status_code


def _site(state: EmulatorState, site: str, admin: str, app: ConnectedAppSecret) -> str:
    """A Tableau site with its administrator, the rotation's test user and a viewer; returns the admin's PAT."""
    state.add_site(site)
    state.add_user(site, admin, "SiteAdministratorCreator")
    state.add_user(site, TEST_USER, "Viewer")
    state.add_user(site, TENANT_VIEWER, "Viewer")
    state.add_connected_app(
        site,
        "token-broker",
        client_id=app.client_id,
        domain_allowlist=["127.0.0.1"],
        secrets=[(app.secret_id, app.secret_value)],
    )
    # Both sites name their PAT alike: only its secret (and the site it belongs to) tells them apart.
    return state.add_pat(site, admin, PAT_NAME)


def _new_app_secret() -> ConnectedAppSecret:
    return ConnectedAppSecret(str(uuid.uuid4()), str(uuid.uuid4()), secrets.token_urlsafe(32))


@pytest.fixture
def sites(moto_server_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TwoSites]:
    from token_broker import handler as broker

    # The broker deployment (Cognito, table, the first site's secret), its environment from the template with a
    # second site declared; build_broker_stack resets moto, so it comes first.
    stack = build_broker_stack(moto_server_url, monkeypatch, parameters=SITES)
    monkeypatch.setattr(SecretsManagerBackend, "rotate_secret", secretsmanager_rules.rotate_secret_as_aws)
    rotation.reset_runtime()
    template = Template(parameters=SITES)
    sm = stack.secretsmanager

    state = EmulatorState(clock=FakeClock())
    first_pat = _site(state, FIRST_SITE, FIRST_ADMIN, stack.secret)
    second = _new_app_secret()
    second_pat = _site(state, SECOND_SITE, SECOND_ADMIN, second)
    server = serve(state)

    # The first site's admin secret holds its own PAT, which the second site refuses.
    create_admin_secret(
        template,
        sm,
        ADMIN_SECRET_NAME,
        admin_secret_json(pat_name=PAT_NAME, pat_secret=first_pat, site_content_url=FIRST_SITE, tableau_url=server.url),
    )
    # The second site's secrets, as the template declares them and under the names it gives them.
    second_name = template.resolve(template.properties("SiteEmeaConnectedAppSecret")["Name"], {})
    admin_name = template.resolve(template.properties("SiteEmeaAdminSecret")["Name"], {})
    second_arn = aws_resources.create_secret_from_template(
        template, sm, "SiteEmeaConnectedAppSecret", second_name, second.to_json()
    )
    second_admin_arn = aws_resources.create_secret_from_template(
        template,
        sm,
        "SiteEmeaAdminSecret",
        admin_name,
        admin_secret_json(
            pat_name=PAT_NAME, pat_secret=second_pat, site_content_url=SECOND_SITE, tableau_url=server.url
        ),
    )
    session = boto3.session.Session(region_name=stack.pool.region)
    function_arn = install_rotation_lambda_stub(moto_server_url, session, "SiteEmeaRotationFunction")

    # A tenant on the second site: its record names the site's secret by the name tenants store.
    aws_resources.put_tenant(
        stack.dynamodb, stack.table, TENANT, enabled=True, tableau_url=server.url, site=SECOND_SITE,
        scopes=["tableau:views:embed"], connected_app_secret=second_name,
    )  # fmt: skip
    email = "umi@umbrella.example"
    sub = aws_resources.create_cognito_user(stack.cognito, stack.pool.pool_id, email, PASSWORD)
    aws_resources.put_user(
        stack.dynamodb, stack.table, sub, tableau_username=TENANT_VIEWER, tenant_id=TENANT, enabled=True
    )
    stack.users[TENANT] = StackUser(email=email, sub=sub, tenant=TENANT, tableau_username=TENANT_VIEWER)

    try:
        yield TwoSites(
            stack, state, server, template, stack.secret_arn, first_pat, second, second_name, second_arn,
            second_admin_arn, function_arn,
        )  # fmt: skip
    finally:
        server.shutdown()
        rotation.reset_runtime()
        broker.reset_runtime()


def test_template_gives_the_second_site_its_own_names_and_the_broker_allows_them(sites: TwoSites) -> None:
    assert sites.second_secret_name == "tableau-token-broker/sites/Emea/connected-app"
    described = sites.stack.secretsmanager.describe_secret(SecretId=sites.second_secret_arn)
    assert described["Name"] == sites.second_secret_name
    assert {"Key": "tableau-site", "Value": "Emea"} in described["Tags"]
    admin = sites.stack.secretsmanager.describe_secret(SecretId=sites.second_admin_arn)
    assert admin["Name"] == "tableau-token-broker/sites/Emea/admin"
    assert sites.stack.env["ADDITIONAL_CONNECTED_APP_SECRET_ARNS"] == sites.second_secret_name
    # The premise of the PAT check below: the first site's PAT means nothing on the second site.
    assert sites.state.check_pat(SECOND_SITE, PAT_NAME, sites.first_admin_pat) is None


def test_second_site_rotates_with_its_own_admin_and_its_tenants_keep_getting_accepted_tokens(
    sites: TwoSites, monkeypatch: pytest.MonkeyPatch
) -> None:
    sm = sites.stack.secretsmanager
    # Given a tenant on the second site who gets an accepted token, and the first site's secret as it stands
    before = sites.broker_token()
    assert jwt.get_unverified_header(before)["kid"] == sites.second.secret_id
    assert sites.embed_status(before) == 200
    first_stages = sites.stages(sites.first_secret_arn)
    first_value = sites.stage_secret(sites.first_secret_arn, AWSCURRENT)
    first_tableau_ids = sites.state.secret_ids(FIRST_SITE, first_value.client_id)
    second_current = sites.version(sites.second_secret_arn, AWSCURRENT)

    # When the second site's secret rotates through the deployed entry point, configured exactly as the template
    # configures that site's rotation function
    env = sites.template.function_environment(
        "SiteEmeaRotationFunction", {"SiteEmeaAdminSecret": sites.second_admin_arn, "RotationTestUsername": TEST_USER}
    )
    assert env["TABLEAU_ADMIN_SECRET_ARN"] == sites.second_admin_arn
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    rotation.reset_runtime()
    context = LocalLambdaContext(
        function_name="SiteEmeaRotationFunction",
        invoked_function_arn=sites.second_function_arn,
        log_group_name="/aws/lambda/SiteEmeaRotationFunction",
    )
    sites.state.clear_signins()
    token = begin_rotation(sm, sites.second_secret_arn, sites.second_function_arn)
    for step in STEP_ORDER:
        rotation.lambda_handler(rotation_event(step, sites.second_secret_arn, token), context)

    # Then AWSCURRENT moved for the second site's secret: a new Tableau secret of the same app on that site
    assert sites.version(sites.second_secret_arn, AWSCURRENT) == token != second_current
    assert sites.version(sites.second_secret_arn, AWSPREVIOUS) == second_current
    assert sites.version(sites.second_secret_arn, AWSPENDING) is None
    new = sites.stage_secret(sites.second_secret_arn, AWSCURRENT)
    assert new.client_id == sites.second.client_id and new.secret_id != sites.second.secret_id
    assert sorted(sites.state.secret_ids(SECOND_SITE, new.client_id)) == sorted([sites.second.secret_id, new.secret_id])
    # And the first site's secret is untouched, in Secrets Manager and in Tableau
    assert sites.stages(sites.first_secret_arn) == first_stages
    assert sites.stage_secret(sites.first_secret_arn, AWSCURRENT) == first_value
    assert sites.state.secret_ids(FIRST_SITE, first_value.client_id) == first_tableau_ids
    # And every REST sign-in was the second site's administrator's PAT on the second site
    pat_signins = [(s.site, s.username) for s in sites.state.signins() if s.kind == "rest-pat"]
    assert pat_signins and set(pat_signins) == {(SECOND_SITE, SECOND_ADMIN)}

    # And the tenant keeps getting accepted tokens: the warm broker's cached secret (now AWSPREVIOUS) ...
    cached = sites.broker_token()
    assert jwt.get_unverified_header(cached)["kid"] == sites.second.secret_id
    assert sites.embed_status(cached) == 200
    # ... and, once the cache is gone (a fresh container), the new AWSCURRENT secret
    from token_broker import handler as broker

    broker.reset_runtime()
    after = sites.broker_token()
    assert jwt.get_unverified_header(after)["kid"] == new.secret_id
    assert sites.embed_status(after) == 200
