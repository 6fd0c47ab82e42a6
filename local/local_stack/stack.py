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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import boto3

from local_stack import aws_resources
from local_stack.api_gateway import LocalHttpApi
from local_stack.demo_server import BackgroundServer, demo_app
from local_stack.lambda_runtime import route_logs_to_file
from local_stack.rotate import ADMIN_SECRET_NAME, admin_secret_json, create_admin_secret
from local_stack.template import REPO_ROOT, Template
from tableau_broker.signing_secret import ConnectedAppSecret

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


def _isolate_from_real_aws(endpoint: str) -> None:
    """Every boto3 client in this process talks to moto, whatever the developer's shell has configured."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",  # nosec B105  # moto's dummy key
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    )


def _route_broker_logs(log_file: Path) -> None:
    """The function's structured log goes to ``log_file``, not the console."""
    from token_broker.handler import logger

    route_logs_to_file(logger, log_file)


class LocalStack:
    def __init__(
        self,
        ports: Ports | None = None,
        *,
        state_file: Path = REPO_ROOT / ".local" / "stack.json",
        log_file: Path = REPO_ROOT / ".local" / "broker.log",
        extra_origins: tuple[str, ...] = (),
    ) -> None:
        self.ports = ports or Ports()
        self.state_file = state_file
        self.log_file = log_file
        self.extra_origins = extra_origins
        self.template = Template()
        self._servers: list[Any] = []
        self._moto: Any = None
        self.info: StackInfo | None = None
        self.emulator_state: Any = None

    # --- lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> StackInfo:
        from moto.server import ThreadedMotoServer

        from local_stack import secretsmanager_rules
        from tableau_emulator import EmulatorState, ensure_embedding_bundle, serve

        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.write_text("")
        ensure_embedding_bundle()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)

        secretsmanager_rules.install()  # RotateSecret refuses while a rotation is unfinished, as in AWS
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.ports.moto, verbose=False)
        self._moto.start()
        moto_url = f"http://127.0.0.1:{self._moto._server.server_port}"
        _isolate_from_real_aws(moto_url)

        self.emulator_state = EmulatorState()
        tableau = serve(self.emulator_state, port=self.ports.tableau)
        self._servers.append(tableau)
        demo_placeholder = BackgroundServer("demo", demo_app({}), self.ports.demo)
        demo_url = demo_placeholder.url
        origins = (demo_url, demo_url.replace("127.0.0.1", "localhost"), *self.extra_origins)

        session = boto3.session.Session(region_name=REGION)
        cognito = session.client("cognito-idp")
        dynamodb = session.client("dynamodb")
        secretsmanager = session.client("secretsmanager")

        pool = aws_resources.create_user_pool(cognito, "tableau-token-broker-local", region=REGION)
        table = aws_resources.create_entitlements_table(self.template, dynamodb, TABLE_NAME)

        tenant_attribute = self.template.parameter_defaults()["TenantAttributeName"]
        self.emulator_state.add_site(SITE, name="Analytics", tenant_attribute=tenant_attribute)
        for user in DEMO_USERS:
            if user.tableau_username:
                self.emulator_state.add_user(SITE, user.tableau_username, "Viewer")
        self.emulator_state.add_user(SITE, ADMIN_USER, "SiteAdministratorCreator")
        pat_secret = self.emulator_state.add_pat(SITE, ADMIN_USER, ADMIN_PAT_NAME)
        secret = ConnectedAppSecret(
            client_id=str(uuid.uuid4()), secret_id=str(uuid.uuid4()), secret_value=secrets.token_urlsafe(32)
        )
        self.emulator_state.add_connected_app(
            SITE,
            "token-broker",
            client_id=secret.client_id,
            domain_allowlist=["127.0.0.1", "localhost"],
            secrets=[(secret.secret_id, secret.secret_value)],
        )
        secret_arn = aws_resources.create_connected_app_secret(self.template, secretsmanager, SECRET_NAME, secret)
        # The rotation's Tableau credentials: the emulator admin's PAT (`make rotate` runs the rotation).
        admin_secret_arn = create_admin_secret(
            self.template,
            secretsmanager,
            ADMIN_SECRET_NAME,
            admin_secret_json(
                pat_name=ADMIN_PAT_NAME, pat_secret=pat_secret, site_content_url=SITE, tableau_url=tableau.url
            ),
        )

        for tenant in sorted({u.tenant for u in DEMO_USERS if u.tenant}):
            aws_resources.put_tenant(
                dynamodb,
                table,
                tenant,
                enabled=True,
                tableau_url=tableau.url,
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

        jwks_url = f"{moto_url}/{pool.pool_id}/.well-known/jwks.json"
        refs = {
            "AWS::Region": REGION,
            "AWS::AccountId": "123456789012",
            "AWS::URLSuffix": "amazonaws.com",
            "EntitlementsTable": table,
            "ConnectedAppSecret": secret_arn,
            "UserPoolId": pool.pool_id,
            "UserPoolClientIds": [pool.client_id],
            "AllowedOrigins": list(origins),
            "ApiAccessLogGroup.Arn": "arn:aws:logs:us-east-1:123456789012:log-group:local",
        }
        env = self.template.function_environment("BrokerFunction", refs)
        env.update(
            {
                "COGNITO_JWKS_URL": jwks_url,
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_DISABLED": "true",
            }
        )
        os.environ.update(env)
        _route_broker_logs(self.log_file)
        api = LocalHttpApi(self.template, refs, jwks_url=jwks_url)
        api_server = BackgroundServer("api", api, self.ports.api)
        self._servers.append(api_server)

        self.info = StackInfo(
            api_url=f"{api_server.url}/token",
            aws_endpoint_url=moto_url,
            region=REGION,
            user_pool_id=pool.pool_id,
            app_client_id=pool.client_id,
            jwks_url=jwks_url,
            issuer=pool.issuer,
            table_name=table,
            secret_arn=secret_arn,
            tableau_url=tableau.url,
            site=SITE,
            view_url=f"{tableau.url}/t/{SITE}/views/{WORKBOOK}/{VIEW}",
            demo_url=demo_url,
            log_file=str(self.log_file),
            tableau_client_id=secret.client_id,
            tableau_secret_id=secret.secret_id,
            tableau_admin={"username": ADMIN_USER, "pat_name": ADMIN_PAT_NAME, "pat_secret": pat_secret},
            users=users,
            admin_secret_arn=admin_secret_arn,
            rotation_test_username=ADMIN_USER,
        )
        # The demo page's server is restarted on the same port with its real configuration.
        port = demo_placeholder.server.port
        demo_placeholder.shutdown()
        self._servers.append(BackgroundServer("demo", demo_app(self.demo_config()), port))
        self._write_state_file()
        return self.info

    def demo_config(self) -> dict[str, Any]:
        assert self.info is not None  # nosec B101  # type narrowing after start()
        return {
            "apiUrl": self.info.api_url,
            "cognito": {
                "endpoint": f"{self.info.aws_endpoint_url}/",
                "region": REGION,
                "userPoolId": self.info.user_pool_id,
                "clientId": self.info.app_client_id,
            },
            "tableau": {
                "url": self.info.tableau_url,
                "site": SITE,
                "workbook": WORKBOOK,
                "view": VIEW,
                "embeddingScript": f"{self.info.tableau_url}/javascripts/api/tableau.embedding.3.latest.min.js",
            },
            "demoUsers": [
                {"username": u["username"], "password": u["password"], "tenant": u["tenant"], "entitled": u["entitled"]}
                for u in self.info.users
            ],
        }

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
