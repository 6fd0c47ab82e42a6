"""The whole product on a laptop, all on 127.0.0.1: moto (Cognito, DynamoDB, Secrets Manager), the local
HTTP API running the real broker, the Tableau emulator and the demo page. Resources come from
template.yaml; ``.local/stack.json`` describes the running stack for tests and your own tooling."""

from __future__ import annotations

import json
import logging
import os
import secrets
import select
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import boto3

from local_stack.api_gateway import LocalHttpApi
from local_stack.demo_server import BackgroundServer, demo_app
from local_stack.rotate import ADMIN_SECRET_NAME, admin_secret_json, create_admin_secret
from local_stack.route_faults import FAULTS_PATH, RouteFaults
from sam_local import aws_resources
from sam_local.lambda_runtime import route_logs_to_file
from sam_local.process_env import configure_process, local_aws_environment
from sam_local.template import REPO_ROOT, Template
from tableau_broker.signing_secret import ConnectedAppSecret
from tableau_emulator import EmulatorServer, EmulatorState, ensure_embedding_bundle, serve

REGION = "us-east-1"
SITE = "analytics"
TABLE_NAME = "tableau-token-broker-entitlements"
SECRET_NAME = "tableau-token-broker/connected-app"  # nosec B105  # a secret's name
WORKBOOK, VIEW = "TenantSales", "Orders"
ADMIN_USER = "admin@tableau.local"
ADMIN_PAT_NAME = "token-broker-rotation"


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    tenant: str | None
    tableau_username: str | None

    @property
    def entitled(self) -> bool:
        return self.tenant is not None


# Local, emulated identities only: printed on start-up and written to stack.json.
DEMO_USERS = (
    DemoUser("alice@acme.example", "Acme-Demo-Passw0rd!", "acme", "alice@acme.example"),
    DemoUser("bob@globex.example", "Globex-Demo-Passw0rd!", "globex", "bob@globex.example"),
    DemoUser("carol@signup.example", "Carol-Demo-Passw0rd!", None, None),
)


@dataclass
class Ports:
    moto: int = 5055
    api: int = 3000
    tableau: int = 8088
    demo: int = 8000

    @classmethod
    def free(cls) -> Ports:
        return cls(0, 0, 0, 0)


@dataclass
class StackInfo:
    api_url: str
    api_faults_url: str  # local-only test control: the next calls of a route answer 503 (route_faults.py)
    aws_endpoint_url: str
    region: str
    user_pool_id: str
    app_client_id: str
    jwks_url: str
    issuer: str
    table_name: str
    secret_arn: str
    tableau_url: str
    site: str
    view_url: str
    demo_url: str
    log_file: str
    tableau_client_id: str
    tableau_secret_id: str
    tableau_admin: dict[str, str]
    users: list[dict[str, Any]]
    admin_secret_arn: str
    rotation_test_username: str
    pid: int = field(default_factory=os.getpid)


def _route_broker_logs(log_file: Path) -> None:
    """The function's structured log goes to ``log_file``, not the console."""
    from token_broker.handler import logger

    route_logs_to_file(logger, log_file)


@dataclass(frozen=True)
class Provisioned:
    """The servers started before anything is seeded."""

    moto_url: str
    tableau: EmulatorServer
    demo_placeholder: BackgroundServer  # holds the demo page's port until its configuration is known

    @property
    def origins(self) -> tuple[str, ...]:
        demo_url = self.demo_placeholder.url
        return demo_url, demo_url.replace("127.0.0.1", "localhost")


@dataclass(frozen=True)
class Seeded:
    """What seeding created in moto and the Tableau emulator."""

    pool: aws_resources.UserPool
    table: str
    secret: ConnectedAppSecret
    secret_arn: str
    admin_secret_arn: str
    pat_secret: str
    users: list[dict[str, Any]]


@dataclass(frozen=True)
class BrokerConfiguration:
    """The broker function's template references and its environment, resolved from template.yaml."""

    refs: dict[str, Any]
    environment: dict[str, str]
    jwks_url: str


class LocalStack:
    def __init__(
        self,
        ports: Ports | None = None,
        *,
        state_file: Path = REPO_ROOT / ".local" / "stack.json",
        log_file: Path = REPO_ROOT / ".local" / "broker.log",
        extra_origins: tuple[str, ...] = (),
        issuer_type: str = "ORIGINAL",
        parameters: Mapping[str, str] | None = None,
    ) -> None:
        self.ports = ports or Ports()
        self.issuer_type = issuer_type  # the pool's IssuerConfiguration: ORIGINAL or UPDATED
        self.state_file = state_file
        self.log_file = log_file
        self.extra_origins = extra_origins
        self.template = Template(parameters=parameters)  # deploy parameters other than the template's defaults
        self._servers: list[Any] = []
        self._moto: Any = None
        self.info: StackInfo | None = None
        self.emulator_state: Any = None

    # --- lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> StackInfo:
        """Provision the servers, seed AWS and Tableau, configure the broker, serve it; then write stack.json.

        This process is configured for the stack (see :mod:`sam_local.process_env`): first every boto3 client
        is pointed at moto, then the broker's template environment is set before its handler is imported.
        """
        self._prepare_files()
        provisioned = self._provision()
        configure_process(local_aws_environment(provisioned.moto_url, REGION))
        seeded = self._seed(provisioned)
        broker = self._configure(provisioned, seeded)
        configure_process(broker.environment)
        self.info = self._serve(provisioned, seeded, broker)
        self._write_state_file()
        return self.info

    def _prepare_files(self) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.write_text("")
        ensure_embedding_bundle()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)

    def _provision(self) -> Provisioned:
        """moto (with Secrets Manager's rotation rule), the Tableau emulator and a placeholder for the demo page."""
        from moto.server import ThreadedMotoServer

        from local_stack import secretsmanager_rules

        secretsmanager_rules.install()  # RotateSecret refuses while a rotation is unfinished, as in AWS
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.ports.moto, verbose=False)
        self._moto.start()
        moto_url = f"http://127.0.0.1:{self._moto._server.server_port}"
        self.emulator_state = EmulatorState()
        tableau = serve(self.emulator_state, port=self.ports.tableau)
        self._servers.append(tableau)
        demo_placeholder = BackgroundServer("demo", demo_app({}), self.ports.demo)
        return Provisioned(moto_url=moto_url, tableau=tableau, demo_placeholder=demo_placeholder)

    def _seed(self, provisioned: Provisioned) -> Seeded:
        """The demo users, tenants and secrets in moto and the matching site, users and app in the emulator."""
        session = boto3.session.Session(region_name=REGION)
        cognito = session.client("cognito-idp", endpoint_url=provisioned.moto_url)
        dynamodb = session.client("dynamodb", endpoint_url=provisioned.moto_url)
        secretsmanager = session.client("secretsmanager", endpoint_url=provisioned.moto_url)

        pool = aws_resources.create_user_pool(
            cognito, "tableau-token-broker-local", region=REGION, issuer_type=self.issuer_type
        )
        table = aws_resources.create_entitlements_table(self.template, dynamodb, TABLE_NAME)
        secret = ConnectedAppSecret(
            client_id=str(uuid.uuid4()), secret_id=str(uuid.uuid4()), secret_value=secrets.token_urlsafe(32)
        )
        pat_secret = self._seed_tableau(secret)
        secret_arn = aws_resources.create_connected_app_secret(self.template, secretsmanager, SECRET_NAME, secret)
        tableau_url = provisioned.tableau.url
        # The rotation's Tableau credentials: the emulator admin's PAT (`make rotate` runs the rotation).
        admin_secret_arn = create_admin_secret(
            self.template,
            secretsmanager,
            ADMIN_SECRET_NAME,
            admin_secret_json(
                pat_name=ADMIN_PAT_NAME, pat_secret=pat_secret, site_content_url=SITE, tableau_url=tableau_url
            ),
        )
        for tenant in sorted({u.tenant for u in DEMO_USERS if u.tenant}):
            aws_resources.put_tenant(
                dynamodb,
                table,
                tenant,
                enabled=True,
                tableau_url=tableau_url,
                site=SITE,
                scopes=["tableau:views:embed", "tableau:views:embed_authoring"],
            )
        users: list[dict[str, Any]] = []
        for user in DEMO_USERS:
            sub = aws_resources.create_cognito_user(cognito, pool.pool_id, user.username, user.password)
            if user.tenant:
                aws_resources.put_user(
                    dynamodb, table, sub, tableau_username=user.tableau_username, tenant_id=user.tenant, enabled=True
                )
            users.append({**asdict(user), "entitled": user.entitled, "sub": sub})
        return Seeded(pool, table, secret, secret_arn, admin_secret_arn, pat_secret, users)

    def _seed_tableau(self, secret: ConnectedAppSecret) -> str:
        """The site, its users and the broker's connected app; returns the rotation admin's PAT secret."""
        tenant_attribute = self.template.parameter_values()["TenantAttributeName"]
        self.emulator_state.add_site(SITE, name="Analytics", tenant_attribute=tenant_attribute)
        for user in DEMO_USERS:
            if user.tableau_username:
                self.emulator_state.add_user(SITE, user.tableau_username, "Viewer")
        self.emulator_state.add_user(SITE, ADMIN_USER, "SiteAdministratorCreator")
        pat_secret: str = self.emulator_state.add_pat(SITE, ADMIN_USER, ADMIN_PAT_NAME)
        self.emulator_state.add_connected_app(
            SITE,
            "token-broker",
            client_id=secret.client_id,
            domain_allowlist=["127.0.0.1", "localhost"],
            secrets=[(secret.secret_id, secret.secret_value)],
        )
        return pat_secret

    def _configure(self, provisioned: Provisioned, seeded: Seeded) -> BrokerConfiguration:
        """The broker's environment as template.yaml defines it, resolved against what was seeded."""
        jwks_url = f"{provisioned.moto_url}/{seeded.pool.pool_id}/.well-known/jwks.json"
        refs = {
            "AWS::Region": REGION,
            "AWS::AccountId": "123456789012",
            "AWS::URLSuffix": "amazonaws.com",
            "EntitlementsTable": seeded.table,
            "ConnectedAppSecret": seeded.secret_arn,
            "UserPoolId": seeded.pool.pool_id,
            "UserPoolIssuerType": self.issuer_type,
            "UserPoolClientIds": [seeded.pool.client_id],
            "AllowedOrigins": [*provisioned.origins, *self.extra_origins],
            "ApiAccessLogGroup.Arn": "arn:aws:logs:us-east-1:123456789012:log-group:local",
        }
        env = self.template.function_environment("BrokerFunction", refs)
        env.update({"COGNITO_JWKS_URL": jwks_url, "POWERTOOLS_METRICS_DISABLED": "true"})
        return BrokerConfiguration(refs=refs, environment=env, jwks_url=jwks_url)

    def _serve(self, provisioned: Provisioned, seeded: Seeded, broker: BrokerConfiguration) -> StackInfo:
        """The local HTTP API running the broker, and the demo page with its real configuration."""
        _route_broker_logs(self.log_file)
        api = LocalHttpApi(self.template, broker.refs, jwks_url=broker.jwks_url, faults=RouteFaults())
        api_server = BackgroundServer("api", api, self.ports.api)
        self._servers.append(api_server)
        tableau_url = provisioned.tableau.url
        demo_url = provisioned.demo_placeholder.url
        info = StackInfo(
            api_url=f"{api_server.url}/token",
            api_faults_url=f"{api_server.url}{FAULTS_PATH}",
            aws_endpoint_url=provisioned.moto_url,
            region=REGION,
            user_pool_id=seeded.pool.pool_id,
            app_client_id=seeded.pool.client_id,
            jwks_url=broker.jwks_url,
            issuer=seeded.pool.issuer,
            table_name=seeded.table,
            secret_arn=seeded.secret_arn,
            tableau_url=tableau_url,
            site=SITE,
            view_url=f"{tableau_url}/t/{SITE}/views/{WORKBOOK}/{VIEW}",
            demo_url=demo_url,
            log_file=str(self.log_file),
            tableau_client_id=seeded.secret.client_id,
            tableau_secret_id=seeded.secret.secret_id,
            tableau_admin={"username": ADMIN_USER, "pat_name": ADMIN_PAT_NAME, "pat_secret": seeded.pat_secret},
            users=seeded.users,
            admin_secret_arn=seeded.admin_secret_arn,
            rotation_test_username=ADMIN_USER,
        )
        # The demo page's server is restarted on the same port with its real configuration.
        port = provisioned.demo_placeholder.server.port
        provisioned.demo_placeholder.shutdown()
        self._servers.append(BackgroundServer("demo", demo_app(demo_config(info)), port))
        return info

    def _write_state_file(self) -> None:
        assert self.info is not None  # nosec B101  # type narrowing after start()
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self.info), indent=2) + "\n", encoding="utf-8")
        tmp.replace(self.state_file)

    def stop(self) -> None:
        if self.state_file.exists():
            self.state_file.unlink()
        for server in reversed(self._servers):
            server.shutdown()
        self._servers.clear()
        if self._moto is not None:
            self._moto.stop()
            self._moto = None


def demo_config(info: StackInfo) -> dict[str, Any]:
    """What the demo page reads from its ``config.json``."""
    return {
        "apiUrl": info.api_url,
        "cognito": {
            "endpoint": f"{info.aws_endpoint_url}/",
            "region": REGION,
            "userPoolId": info.user_pool_id,
            "clientId": info.app_client_id,
        },
        "tableau": {
            "url": info.tableau_url,
            "site": SITE,
            "workbook": WORKBOOK,
            "view": VIEW,
            "embeddingScript": f"{info.tableau_url}/javascripts/api/tableau.embedding.3.latest.min.js",
        },
        "demoUsers": [
            {"username": u["username"], "password": u["password"], "tenant": u["tenant"], "entitled": u["entitled"]}
            for u in info.users
        ],
    }


READY_LINE = b"ready\n"


def notify_ready(fd: int) -> None:
    """Tell the process that started the stack (``--ready-fd``) that it serves and stack.json is written."""
    with os.fdopen(fd, "wb") as pipe:
        pipe.write(READY_LINE)


def wait_until_ready(fd: int, state_file: Path, timeout: float) -> dict[str, Any]:
    """Block on the read end of the ``--ready-fd`` pipe until the stack says it is ready, then read stack.json.

    The child's exit closes its end of the pipe, so a stack that dies while starting is seen at once (EOF), not
    after the timeout. The parent must close its copy of the write end before calling this.
    """
    with os.fdopen(fd, "rb") as pipe:
        readable, _, _ = select.select([pipe], [], [], timeout)
        if not readable:
            raise TimeoutError(f"the local stack did not report ready within {timeout} s")
        line = pipe.readline()
    if line != READY_LINE:
        raise RuntimeError("the local stack exited before it was ready")
    data: dict[str, Any] = json.loads(state_file.read_text())
    return data
