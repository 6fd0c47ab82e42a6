"""``token-broker tenant put|enable|disable|show|list``: TENANT#<id> records."""

from __future__ import annotations

import argparse
from typing import Any

from tableau_broker.entitlements import TENANT_PREFIX, parse_tenant, tenant_key
from tableau_broker.errors import ConfigurationError
from tableau_broker.scopes import DEFAULT_EMBED_SCOPES
from token_broker_cli import validation
from token_broker_cli.context import SESSION_NOTE, Context, one_line
from token_broker_cli.errors import EXIT_FAILURE, EXIT_OK, NotFound, UsageError
from token_broker_cli.parser import Parents, Subparsers
from token_broker_cli.store import EntitlementAdmin


def register(commands: Subparsers, parents: Parents) -> None:
    group = commands.add_parser("tenant", help="manage tenants (TENANT#<id> records)", parents=[parents.aws])
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    common = [parents.aws, parents.table]

    put = actions.add_parser(
        "put",
        parents=[*common, parents.tenant_attribute],
        help="create or update a tenant",
        description="Create a tenant, or update one: options left out keep their stored values; "
        "--scope, --attribute and --oda-group replace the stored list/map when given.",
    )
    put.add_argument("tenant_id", metavar="TENANT_ID")
    put.add_argument("--tableau-url", required=True, help="Tableau origin, e.g. https://10ax.online.tableau.com")
    put.add_argument("--site", required=True, help="site content URL ('' for Tableau Server's default site)")
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
    attrs = put.add_mutually_exclusive_group()
    attrs.add_argument(
        "--attribute",
        dest="attributes",
        action="append",
        metavar="NAME=VALUE",
        help="tenant-wide user attribute; repeat a name to make an array",
    )
    attrs.add_argument("--clear-attributes", action="store_true", help="remove all tenant attributes")
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

    for name, handler, text in (
        ("enable", cmd_enable, "let the broker mint tokens for the tenant again"),
        ("disable", cmd_disable, "stop minting tokens for every user of the tenant"),
        ("show", cmd_show, "print a tenant record as JSON"),
    ):
        parser = actions.add_parser(name, parents=common, help=text)
        parser.add_argument("tenant_id", metavar="TENANT_ID")
        parser.set_defaults(handler=handler)

    listing = actions.add_parser("list", parents=common, help="list tenants")
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(handler=cmd_list)


def tenant_json(tenant_id: str, item: dict[str, Any]) -> dict[str, Any]:
    return {"tenant_id": tenant_id, **{k: v for k, v in item.items() if k != "pk"}}


def tenant_problem(tenant_id: str, item: dict[str, Any]) -> str | None:
    try:
        parse_tenant(tenant_id, item)
    except ConfigurationError as exc:
        return exc.reason
    return None


def _store(ctx: Context, args: argparse.Namespace) -> EntitlementAdmin:
    return EntitlementAdmin(ctx.aws.dynamodb(), ctx.table(args))


def cmd_put(ctx: Context, args: argparse.Namespace) -> int:
    tenant_id = validation.identifier("TENANT_ID", args.tenant_id)
    tenant_attribute = validation.tenant_attribute_name(ctx.tenant_attribute(args))
    url = validation.tableau_url(args.tableau_url)
    store = _store(ctx, args)
    existing = store.get(tenant_key(tenant_id))
    item: dict[str, Any] = dict(existing or {})
    item.pop("pk", None)
    item.update(tableau_url=url, site=args.site.strip())

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

    if args.attributes is not None:
        item["attributes"] = validation.attributes(args.attributes, tenant_attribute=tenant_attribute)
    elif args.clear_attributes:
        item.pop("attributes", None)
    elif isinstance(item.get("attributes"), dict):
        with validation.kept("attributes", "--attribute or --clear-attributes"):
            validation.attribute_map(item["attributes"], tenant_attribute=tenant_attribute)

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

    problem = tenant_problem(tenant_id, item)
    if problem is not None:
        raise UsageError(f"tenant record would be invalid: {problem}")

    store.put(tenant_key(tenant_id), item, create=existing is None)
    ctx.note(f"tenant {tenant_id!r} {'created' if existing is None else 'updated'}")
    if item.get("enabled") is not True:
        ctx.warn(f"tenant {tenant_id!r} is disabled: the broker mints no tokens for it")
    ctx.print_json(tenant_json(tenant_id, item))
    return EXIT_OK


def _set_enabled(ctx: Context, args: argparse.Namespace, enabled: bool) -> int:
    tenant_id = validation.identifier("TENANT_ID", args.tenant_id)
    store = _store(ctx, args)
    if enabled:
        # Disabling always works (it is the fail-closed path); enabling a record the broker cannot use would not.
        current = store.get(tenant_key(tenant_id))
        if current is None:
            raise NotFound(f"no such tenant {tenant_id!r}")
        problem = tenant_problem(tenant_id, current)
        if problem is not None:
            raise UsageError(f"tenant record is invalid ({problem}); fix it with 'token-broker tenant put' first")
    updated = store.set_enabled(tenant_key(tenant_id), enabled)
    if updated is None:
        raise NotFound(f"no such tenant {tenant_id!r}")
    if enabled:
        ctx.note(f"tenant {tenant_id!r} enabled")
    else:
        ctx.note(f"tenant {tenant_id!r} disabled: the broker refuses new tokens from the next request; {SESSION_NOTE}")
    ctx.print_json(tenant_json(tenant_id, updated))
    return EXIT_OK


def cmd_enable(ctx: Context, args: argparse.Namespace) -> int:
    return _set_enabled(ctx, args, True)


def cmd_disable(ctx: Context, args: argparse.Namespace) -> int:
    return _set_enabled(ctx, args, False)


def cmd_show(ctx: Context, args: argparse.Namespace) -> int:
    tenant_id = validation.identifier("TENANT_ID", args.tenant_id)
    item = _store(ctx, args).get(tenant_key(tenant_id))
    if item is None:
        raise NotFound(f"no such tenant {tenant_id!r}")
    ctx.print_json(tenant_json(tenant_id, item))
    problem = tenant_problem(tenant_id, item)
    if problem is not None:
        ctx.error(f"tenant record is invalid ({problem}): the broker fails closed for its users")
        return EXIT_FAILURE
    return EXIT_OK


def cmd_list(ctx: Context, args: argparse.Namespace) -> int:
    records = sorted(_store(ctx, args).scan(TENANT_PREFIX), key=lambda record: record[0])
    if args.json:
        ctx.print_json([tenant_json(tenant_id, item) for tenant_id, item in records])
        return EXIT_OK
    for tenant_id, item in records:
        problem = tenant_problem(tenant_id, item)
        status = "invalid" if problem else ("enabled" if item.get("enabled") is True else "disabled")
        columns = [tenant_id, status, str(item.get("tableau_url", "")), str(item.get("site", ""))]
        ctx.print("\t".join(one_line(column) for column in columns))
    return EXIT_OK
