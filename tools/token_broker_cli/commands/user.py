"""``token-broker user grant|revoke|enable|disable|show|list``: USER#<cognito sub> records, named by sub, e-mail
address or Cognito username."""

from __future__ import annotations

import argparse
from typing import Any

from tableau_broker.entitlements import USER_PREFIX, parse_user, tenant_key, user_key
from token_broker_cli import cognito, validation
from token_broker_cli.commands import records
from token_broker_cli.commands.records import REVOKED_AT, RecordKind
from token_broker_cli.context import ENV_USER_POOL, SESSION_NOTE, USER_POOL, Context
from token_broker_cli.errors import EXIT_OK, NotFound, UsageError
from token_broker_cli.parser import Parents, Subparsers
from token_broker_cli.store import UPDATED_AT, EntitlementAdmin


def _warn_if_tenant_is_missing(ctx: Context, store: EntitlementAdmin, user: dict[str, Any]) -> None:
    tenant_id = user.get("tenant_id")
    if isinstance(tenant_id, str) and store.get(tenant_key(tenant_id)) is None:
        ctx.warn(f"tenant {tenant_id!r} does not exist: the broker still refuses this user")


def add_user_id(parser: argparse.ArgumentParser) -> None:
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("sub", metavar="SUB", nargs="?", help="the user's Cognito sub (immutable)")
    who.add_argument("--email", help="find the sub of the pool's user with this e-mail address")
    who.add_argument("--username", dest="cognito_username", help="find the sub of the pool's user with this username")


def find_sub(ctx: Context, args: argparse.Namespace, *, check: bool = False) -> str:
    """The sub from SUB, --email or --username. ``check``: a raw SUB must be a user of the pool (or, without a
    pool, at least shaped like a Cognito sub), so a typo or a username never becomes an orphan record."""
    email: str | None = getattr(args, "email", None)
    username: str | None = getattr(args, "cognito_username", None)
    if email is None and username is None:
        sub = validation.identifier("SUB", args.sub)
        if not check:
            return sub
        pool = ctx.resolve(args, USER_POOL)
        if pool is None:
            if not cognito.is_sub_shaped(sub):
                raise UsageError(
                    f"{sub!r} is not a Cognito sub (a UUID): pass --email or --username with --user-pool-id or "
                    "--stack-name to look the user up"
                )
            ctx.warn(f"sub {sub!r} not checked with a user pool (no --user-pool-id, --stack-name or {ENV_USER_POOL})")
            return sub
        enabled = cognito.check_sub(ctx.aws.cognito(pool), pool, sub)
    else:
        pool = ctx.require(args, USER_POOL)
        client = ctx.aws.cognito(pool)
        if email is not None:
            sub, enabled = cognito.sub_by_email(client, pool, email)
        elif username is not None:
            sub, enabled = cognito.sub_by_username(client, pool, username)
        else:  # argparse's mutually exclusive group requires one of the three
            raise RuntimeError("no user given")
        ctx.note(f"{email or username} is Cognito user {sub}")
    if not enabled:
        ctx.warn(f"Cognito user {sub} is disabled in pool {pool}: they cannot sign in until it is enabled")
    return sub


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
    find_id=find_sub,
    add_id=add_user_id,
)


def register(commands: Subparsers, parents: Parents) -> None:
    group = commands.add_parser("user", help="manage users (USER#<cognito sub> records)", parents=[parents.aws])
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    common = [parents.aws, parents.table, parents.user_pool]

    grant = actions.add_parser(
        "grant",
        parents=[*common, parents.tenant_attribute],
        help="bind a Cognito user to a tenant and a Tableau username",
        description="Create the user record, or update it within the same tenant: options left out keep their "
        "stored values. Moving a user to another tenant needs 'user revoke' first. A new user is enabled; an "
        "existing user keeps its enabled/disabled state; a revoked one is granted anew. The user is named by "
        "SUB, --email or --username; a SUB that is not a user of the pool (or, without a pool, not a UUID) is "
        "refused.",
    )
    add_user_id(grant)
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
            ("enable", USER.enable, "let the broker mint tokens for the user again"),
            ("disable", USER.disable, "stop minting tokens for the user, keeping the record"),
            ("show", USER.show, "print a user record as JSON"),
        ),
    )

    revoke = actions.add_parser(
        "revoke",
        parents=common,
        help="cut a user off, keeping a disabled record of who revoked them and when",
        description="Disable the user record and stamp revoked_at/revoked_by on it (the broker refuses the "
        "user from the next request); --purge deletes the record instead.",
    )
    add_user_id(revoke)
    revoke.add_argument("--purge", action="store_true", help="delete the record instead of keeping it disabled")
    revoke.set_defaults(handler=cmd_revoke)

    listing = actions.add_parser("list", parents=[parents.aws, parents.table], help="list users")
    listing.add_argument("--tenant", help="only users of this tenant")
    listing.set_defaults(handler=cmd_list)


def cmd_grant(ctx: Context, args: argparse.Namespace) -> int:
    tenant_id = validation.identifier("--tenant", args.tenant)
    username = validation.identifier("--tableau-username", args.tableau_username, inner_spaces=True)
    tenant_attribute = validation.tenant_attribute_name(ctx.tenant_attribute(args))
    sub = find_sub(ctx, args, check=True)
    store = records.store(ctx, args)

    tenant = store.get(tenant_key(tenant_id))
    if tenant is None:
        raise NotFound(f"no such tenant {tenant_id!r}; create it with 'token-broker tenant put' first")
    existing = store.get(user_key(sub))
    revoked = existing is not None and bool(existing.get(REVOKED_AT))
    if existing is not None and not revoked and existing.get("tenant_id") != tenant_id:
        raise UsageError(
            f"user {sub!r} is granted to tenant {existing.get('tenant_id')!r}; "
            "run 'token-broker user revoke' first to move them to another tenant"
        )

    item: dict[str, Any] = dict(existing or {})
    item.pop("pk", None)
    if revoked:  # granted anew: only the record's creation is kept from before
        for name in ("enabled", "scopes", "attributes", REVOKED_AT, "revoked_by"):
            item.pop(name, None)
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
        item.update(ctx.stamp("created"))
    if existing is None or revoked:
        item["enabled"] = True
    item.update(ctx.stamp("updated"))

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

    # Atomic: the tenant must still exist and the stored record must be the one read (same tenant, same update).
    same = {"tenant_id": str((existing or {}).get("tenant_id", tenant_id))}
    if existing is not None and isinstance(existing.get(UPDATED_AT), str):
        same[UPDATED_AT] = existing[UPDATED_AT]
    store.put_guarded(user_key(sub), item, guard_key=tenant_key(tenant_id), same=same)
    ctx.note(f"user {sub!r} {'updated' if existing is not None and not revoked else 'granted'} in tenant {tenant_id!r}")
    ctx.emit(USER.json(sub, item))
    return EXIT_OK


def cmd_revoke(ctx: Context, args: argparse.Namespace) -> int:
    sub = find_sub(ctx, args)
    store = records.store(ctx, args)
    if args.purge:
        old = store.delete(user_key(sub))
        if old is None:
            # Never report success for a sub that matched nothing: a typo would leave the real user entitled.
            raise USER.not_found(sub)
        ctx.note(f"user {sub!r} purged (record deleted): the broker refuses them from the next request; {SESSION_NOTE}")
        ctx.emit(USER.json(sub, old))
        return EXIT_OK
    current = store.get(user_key(sub))
    if current is None:
        raise USER.not_found(sub)
    if current.get(REVOKED_AT) and current.get("enabled") is not True:
        ctx.note(f"user {sub!r} was already revoked by {current.get('revoked_by')} at {current[REVOKED_AT]}")
        ctx.emit(USER.json(sub, current))
        return EXIT_OK
    stamp = ctx.stamp("revoked")
    updated = store.set_fields(user_key(sub), {"enabled": False, **stamp, **ctx.stamp("updated")})
    if updated is None:
        raise USER.not_found(sub)
    ctx.note(
        f"user {sub!r} revoked by {stamp['revoked_by']} (record kept disabled; --purge deletes it): the broker "
        f"refuses them from the next request; {SESSION_NOTE}"
    )
    ctx.emit(USER.json(sub, updated))
    return EXIT_OK


def cmd_list(ctx: Context, args: argparse.Namespace) -> int:
    equals = None if args.tenant is None else {"tenant_id": validation.identifier("--tenant", args.tenant)}
    return USER.print_list(
        ctx,
        records.store(ctx, args).scan(USER_PREFIX, equals=equals),
        ("sub", "tenant_id", "tableau_username", "status"),
    )
