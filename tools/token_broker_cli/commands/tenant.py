"""``token-broker tenant put|enable|disable|show|list``: TENANT#<id> records."""

from __future__ import annotations

import argparse
from typing import Any

from tableau_broker.entitlements import TENANT_PREFIX, parse_tenant, tenant_key
from tableau_broker.scopes import DEFAULT_EMBED_SCOPES
from token_broker_cli import validation
from token_broker_cli.commands import records
from token_broker_cli.commands.records import RecordKind
from token_broker_cli.context import Context
from token_broker_cli.errors import EXIT_OK, NotFound, UsageError
from token_broker_cli.parser import Parents, Subparsers

TENANT = RecordKind(
    noun="tenant",
    id_name="tenant_id",
    metavar="TENANT_ID",
    key=tenant_key,
    parse=parse_tenant,
    fix_command="tenant put",
    disabled_effect="the broker refuses new tokens from the next request",
    invalid_effect="the broker fails closed for its users",
)


def register(commands: Subparsers, parents: Parents) -> None:
    group = commands.add_parser("tenant", help="manage tenants (TENANT#<id> records)", parents=[parents.aws])
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    common = [parents.aws, parents.table]

    put = actions.add_parser(
        "put",
        parents=[*common, parents.tenant_attribute],
        help="create or update a tenant",
        description="Create a tenant (--tableau-url and --site required), or update one: only the options given "
        "change, the others keep their stored values; --scope, --attribute and --oda-group replace the stored "
        "list/map when given. The update is refused if the record changed since it was read.",
    )
    put.add_argument("tenant_id", metavar="TENANT_ID")
    put.add_argument("--tableau-url", help="Tableau origin, e.g. https://10ax.online.tableau.com (new tenants)")
    put.add_argument("--site", help="site content URL ('' for Tableau Server's default site; new tenants)")
    secret = put.add_mutually_exclusive_group()
    secret.add_argument(
        "--secret-arn",
        dest="connected_app_secret",
        metavar="ARN",
        help="this tenant's connected-app secret (default: the broker's CONNECTED_APP_SECRET_ARN)",
    )
    secret.add_argument("--clear-secret-arn", action="store_true", help="use the broker's default secret again")
    put.add_argument(
        "--scope",
        dest="scopes",
        action="append",
        metavar="SCOPE",
        help=f"allowed embed scope, repeatable (new tenants: {', '.join(DEFAULT_EMBED_SCOPES)})",
    )
    records.add_attribute_options(
        put,
        attribute_help="tenant-wide user attribute; repeat a name to make an array",
        clear_help="remove all tenant attributes",
    )
    oda = put.add_mutually_exclusive_group()
    oda.add_argument(
        "--oda-group",
        dest="oda_groups",
        action="append",
        metavar="GROUP",
        help="enable on-demand access with these Tableau groups (repeatable)",
    )
    oda.add_argument("--clear-oda", action="store_true", help="turn on-demand access off")
    enabled = put.add_mutually_exclusive_group()
    enabled.add_argument("--enable", dest="enabled", action="store_const", const=True, help="(default for new)")
    enabled.add_argument("--disable", dest="enabled", action="store_const", const=False)
    put.set_defaults(handler=cmd_put)

    TENANT.add_id_actions(
        actions,
        common,
        (
            ("enable", TENANT.enable, "let the broker mint tokens for the tenant again"),
            (
                "disable",
                TENANT.disable,
                "stop minting tokens for every user of the tenant (warm brokers: within TenantCacheSeconds)",
            ),
            ("show", TENANT.show, "print a tenant record as JSON"),
        ),
    )

    listing = actions.add_parser("list", parents=common, help="list tenants")
    listing.set_defaults(handler=cmd_list)


def cmd_put(ctx: Context, args: argparse.Namespace) -> int:
    tenant_id = TENANT.record_id(ctx, args)
    tenant_attribute = validation.tenant_attribute_name(ctx.tenant_attribute(args))
    url = None if args.tableau_url is None else validation.tableau_url(args.tableau_url)
    store = records.store(ctx, args)
    existing = store.get(tenant_key(tenant_id))
    if existing is None and (url is None or args.site is None):
        raise NotFound(f"no such tenant {tenant_id!r}: a new tenant needs --tableau-url and --site")
    item: dict[str, Any] = dict(existing or {})
    item.pop("pk", None)
    if url is not None:
        item["tableau_url"] = url
    if args.site is not None:
        item["site"] = args.site.strip()

    if args.connected_app_secret is not None:
        item["connected_app_secret"] = validation.identifier("--secret-arn", args.connected_app_secret)
    elif args.clear_secret_arn:
        item.pop("connected_app_secret", None)

    if args.scopes is not None:
        item["scopes"], warnings = validation.scopes(args.scopes, owner="tenant")
        for warning in warnings:
            ctx.warn(warning)
    elif existing is None:
        item["scopes"] = list(DEFAULT_EMBED_SCOPES)
    else:
        # Stored values are kept, but they must pass the same rules as new ones (a REST scope must not survive).
        with validation.kept("scopes", "--scope"):
            validation.scopes(item.get("scopes") or [], owner="tenant")

    records.apply_attributes(item, args, tenant_attribute=tenant_attribute)

    if args.oda_groups is not None:
        groups = validation.on_demand_access(args.oda_groups, item.get("scopes") or [])
        item["on_demand_access"] = {"enabled": True, "groups": groups}
    elif args.clear_oda:
        item.pop("on_demand_access", None)
    elif (kept_groups := validation.on_demand_access_groups(item.get("on_demand_access"))) is not None:
        with validation.kept("on-demand access", "--oda-group, --clear-oda or --scope"):
            validation.on_demand_access(kept_groups, item.get("scopes") or [])

    if args.enabled is not None:
        item["enabled"] = args.enabled
    elif existing is None:
        item["enabled"] = True

    problem = TENANT.problem(tenant_id, item)
    if problem is not None:
        raise UsageError(f"tenant record would be invalid: {problem}")

    if existing is None:
        item.update(ctx.stamp("created"))
    item.update(ctx.stamp("updated"))
    store.put(tenant_key(tenant_id), item, seen=existing)
    ctx.note(f"tenant {tenant_id!r} {'created' if existing is None else 'updated'}")
    if item.get("enabled") is not True:
        ctx.warn(f"tenant {tenant_id!r} is disabled: the broker mints no tokens for it")
    ctx.emit(TENANT.json(tenant_id, item))
    return EXIT_OK


def cmd_list(ctx: Context, args: argparse.Namespace) -> int:
    return TENANT.print_list(
        ctx, records.store(ctx, args).scan(TENANT_PREFIX), ("tenant_id", "status", "tableau_url", "site")
    )
