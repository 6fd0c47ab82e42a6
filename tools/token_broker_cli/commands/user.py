"""``token-broker user grant|revoke|enable|disable|show|list``: USER#<cognito sub> records."""

from __future__ import annotations

import argparse
from typing import Any

from tableau_broker.entitlements import USER_PREFIX, parse_user, tenant_key, user_key
from token_broker_cli import validation
from token_broker_cli.commands import records
from token_broker_cli.commands.records import RecordKind
from token_broker_cli.context import SESSION_NOTE, Context
from token_broker_cli.errors import EXIT_OK, NotFound, UsageError
from token_broker_cli.parser import Parents, Subparsers
from token_broker_cli.store import EntitlementAdmin


def _warn_if_tenant_is_missing(ctx: Context, store: EntitlementAdmin, user: dict[str, Any]) -> None:
    tenant_id = user.get("tenant_id")
    if isinstance(tenant_id, str) and store.get(tenant_key(tenant_id)) is None:
        ctx.warn(f"tenant {tenant_id!r} does not exist: the broker still refuses this user")


USER = RecordKind(
    noun="user",
    id_name="sub",
    metavar="SUB",
    key=user_key,
    parse=parse_user,
    fix_command="user grant",
    disabled_effect="the broker refuses them from the next request",
    invalid_effect="the broker fails closed for this user",
    after_enable=_warn_if_tenant_is_missing,
)


def register(commands: Subparsers, parents: Parents) -> None:
    group = commands.add_parser("user", help="manage users (USER#<cognito sub> records)", parents=[parents.aws])
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    common = [parents.aws, parents.table]

    grant = actions.add_parser(
        "grant",
        parents=[*common, parents.tenant_attribute],
        help="bind a Cognito user to a tenant and a Tableau username",
        description="Create the user record, or update it within the same tenant: options left out keep their "
        "stored values. Moving a user to another tenant needs 'user revoke' first. A new user is enabled; an "
        "existing user keeps its enabled/disabled state.",
    )
    grant.add_argument("sub", metavar="SUB", help="the user's Cognito sub (immutable)")
    grant.add_argument("--tenant", required=True, help="tenant ID (must exist)")
    grant.add_argument("--tableau-username", required=True, help="the Tableau username (JWT sub), case-sensitive")
    scopes = grant.add_mutually_exclusive_group()
    scopes.add_argument(
        "--scope",
        dest="scopes",
        action="append",
        metavar="SCOPE",
        help="narrow the tenant's scopes for this user (repeatable)",
    )
    scopes.add_argument("--clear-scopes", action="store_true", help="inherit the tenant's scopes again")
    records.add_attribute_options(
        grant,
        attribute_help="user attribute (overrides the tenant's); repeat a name to make an array",
        clear_help="remove all user attributes",
    )
    grant.set_defaults(handler=cmd_grant)

    USER.add_id_actions(
        actions,
        common,
        (
            ("revoke", cmd_revoke, "delete the user record (the broker then refuses the user)"),
            ("enable", USER.enable, "let the broker mint tokens for the user again"),
            ("disable", USER.disable, "stop minting tokens for the user, keeping the record"),
            ("show", USER.show, "print a user record as JSON"),
        ),
    )

    listing = actions.add_parser("list", parents=common, help="list users")
    listing.add_argument("--tenant", help="only users of this tenant")
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(handler=cmd_list)


def cmd_grant(ctx: Context, args: argparse.Namespace) -> int:
    sub = USER.record_id(args)
    tenant_id = validation.identifier("--tenant", args.tenant)
    username = validation.identifier("--tableau-username", args.tableau_username, inner_spaces=True)
    tenant_attribute = validation.tenant_attribute_name(ctx.tenant_attribute(args))
    store = records.store(ctx, args)

    tenant = store.get(tenant_key(tenant_id))
    if tenant is None:
        raise NotFound(f"no such tenant {tenant_id!r}; create it with 'token-broker tenant put' first")
    existing = store.get(user_key(sub))
    if existing is not None and existing.get("tenant_id") != tenant_id:
        raise UsageError(
            f"user {sub!r} is granted to tenant {existing.get('tenant_id')!r}; "
            "run 'token-broker user revoke' first to move them to another tenant"
        )

    item: dict[str, Any] = dict(existing or {})
    item.pop("pk", None)
    item.update(tenant_id=tenant_id, tableau_username=username)
    if args.scopes is not None:
        item["scopes"], warnings = validation.scopes(args.scopes, owner="user")
        for warning in warnings:
            ctx.warn(warning)
    elif args.clear_scopes:
        item.pop("scopes", None)
    elif item.get("scopes") is not None:
        with validation.kept("scopes", "--scope or --clear-scopes"):
            validation.scopes(item["scopes"], owner="user")
    records.apply_attributes(item, args, tenant_attribute=tenant_attribute)
    if existing is None:
        item["enabled"] = True

    problem = USER.problem(sub, item)
    if problem is not None:
        raise UsageError(f"user record would be invalid: {problem}")

    tenant_scopes = tenant.get("scopes")
    outside = [
        scope for scope in item.get("scopes") or [] if not isinstance(tenant_scopes, list) or scope not in tenant_scopes
    ]
    if outside:
        ctx.warn(f"tenant {tenant_id!r} does not allow {', '.join(outside)}: the user will not get them")
    if tenant.get("enabled") is not True:
        ctx.warn(f"tenant {tenant_id!r} is disabled: the broker mints no tokens for its users")
    if item.get("enabled") is not True:
        ctx.warn(f"user {sub!r} stays disabled; run 'token-broker user enable' to let them in")

    # Atomic: the tenant must still exist and the user must not have moved to another tenant meanwhile.
    store.put_guarded(user_key(sub), item, guard_key=tenant_key(tenant_id), same={"tenant_id": tenant_id})
    ctx.note(f"user {sub!r} {'granted' if existing is None else 'updated'} in tenant {tenant_id!r}")
    ctx.print_json(USER.json(sub, item))
    return EXIT_OK


def cmd_revoke(ctx: Context, args: argparse.Namespace) -> int:
    sub = USER.record_id(args)
    old = records.store(ctx, args).delete(user_key(sub))
    if old is None:
        # Never report success for a sub that matched nothing: a typo would leave the real user entitled.
        raise USER.not_found(sub)
    ctx.note(f"user {sub!r} revoked (record deleted): the broker refuses them from the next request; {SESSION_NOTE}")
    ctx.print_json(USER.json(sub, old))
    return EXIT_OK


def cmd_list(ctx: Context, args: argparse.Namespace) -> int:
    equals = None if args.tenant is None else {"tenant_id": validation.identifier("--tenant", args.tenant)}
    return USER.print_list(
        ctx,
        args,
        records.store(ctx, args).scan(USER_PREFIX, equals=equals),
        lambda sub, item, status: [sub, str(item.get("tenant_id", "")), str(item.get("tableau_username", "")), status],
    )
