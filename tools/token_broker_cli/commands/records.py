"""What ``tenant`` and ``user`` commands share: one record kind, addressed by an ID, judged by the broker's parser.

``enable``, ``disable``, ``show`` and the listing loop work the same on both kinds; only the words and the
columns differ, and those live in each kind's ``RecordKind``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tableau_broker.errors import ConfigurationError
from token_broker_cli import validation
from token_broker_cli.context import SESSION_NOTE, Context
from token_broker_cli.errors import EXIT_FAILURE, EXIT_OK, NotFound, UsageError
from token_broker_cli.store import EntitlementAdmin

Handler = Callable[[Context, argparse.Namespace], int]
AfterEnable = Callable[[Context, EntitlementAdmin, dict[str, Any]], None]
FindId = Callable[[Context, argparse.Namespace], str]
AddId = Callable[[argparse.ArgumentParser], None]
REVOKED_AT = "revoked_at"


def store(ctx: Context, args: argparse.Namespace) -> EntitlementAdmin:
    return EntitlementAdmin(ctx.aws.dynamodb(), ctx.table(args))


def add_attribute_options(parser: argparse.ArgumentParser, *, attribute_help: str, clear_help: str) -> None:
    attrs = parser.add_mutually_exclusive_group()
    attrs.add_argument(
        "--attribute",
        dest="attributes",
        action="append",
        metavar="NAME=VALUE",
        help=attribute_help,
    )
    attrs.add_argument("--clear-attributes", action="store_true", help=clear_help)


def apply_attributes(item: dict[str, Any], args: argparse.Namespace, *, tenant_attribute: str) -> None:
    """``--attribute`` replaces the stored map, ``--clear-attributes`` drops it; a kept map must still be valid."""
    if args.attributes is not None:
        item["attributes"] = validation.attributes(args.attributes, tenant_attribute=tenant_attribute)
    elif args.clear_attributes:
        item.pop("attributes", None)
    elif isinstance(item.get("attributes"), dict):
        with validation.kept("attributes", "--attribute or --clear-attributes"):
            validation.attribute_map(item["attributes"], tenant_attribute=tenant_attribute)


@dataclass(frozen=True)
class RecordKind:
    noun: str  # "tenant", "user"
    id_name: str  # the ID's argument (and JSON field) name: "tenant_id", "sub"
    metavar: str  # how usage and errors name the ID: "TENANT_ID", "SUB"
    key: Callable[[str], str]
    parse: Callable[[str, Mapping[str, Any]], object]
    fix_command: str  # the command that rewrites a whole record: "tenant put", "user grant"
    disabled_effect: str  # what `disable` does to the broker, after "<noun> <id> disabled: "
    invalid_effect: str  # what an invalid record does to the broker, after "<noun> record is invalid (...): "
    after_enable: AfterEnable | None = None
    find_id: FindId | None = None  # how the ID is found from other options (a user's e-mail address)
    add_id: AddId | None = None  # adds the ID argument(s) to a parser; default: one positional

    def record_id(self, ctx: Context, args: argparse.Namespace) -> str:
        if self.find_id is not None:
            return self.find_id(ctx, args)
        return validation.identifier(self.metavar, getattr(args, self.id_name))

    def add_id_arguments(self, parser: argparse.ArgumentParser) -> None:
        if self.add_id is not None:
            self.add_id(parser)
        else:
            parser.add_argument(self.id_name, metavar=self.metavar)

    def json(self, record_id: str, item: Mapping[str, Any]) -> dict[str, Any]:
        return {self.id_name: record_id, **{k: v for k, v in item.items() if k != "pk"}}

    def problem(self, record_id: str, item: Mapping[str, Any]) -> str | None:
        try:
            self.parse(record_id, item)
        except ConfigurationError as exc:
            return exc.reason
        return None

    def status(self, record_id: str, item: Mapping[str, Any]) -> str:
        if self.problem(record_id, item):
            return "invalid"
        if item.get("enabled") is True:
            return "enabled"
        return "revoked" if item.get(REVOKED_AT) else "disabled"

    def not_found(self, record_id: str) -> NotFound:
        return NotFound(f"no such {self.noun} {record_id!r}")

    def add_id_actions(
        self, actions: Any, parents: list[argparse.ArgumentParser], entries: Iterable[tuple[str, Handler, str]]
    ) -> None:
        """One subcommand per entry, each taking just the record's ID."""
        for name, handler, text in entries:
            parser = actions.add_parser(name, parents=parents, help=text)
            self.add_id_arguments(parser)
            parser.set_defaults(handler=handler)

    def enable(self, ctx: Context, args: argparse.Namespace) -> int:
        return self._set_enabled(ctx, args, True)

    def disable(self, ctx: Context, args: argparse.Namespace) -> int:
        return self._set_enabled(ctx, args, False)

    def _set_enabled(self, ctx: Context, args: argparse.Namespace, enabled: bool) -> int:
        record_id = self.record_id(ctx, args)
        records = store(ctx, args)
        if enabled:
            # Disabling always works (it is the fail-closed path); enabling a record the broker cannot use would not.
            current = records.get(self.key(record_id))
            if current is None:
                raise self.not_found(record_id)
            problem = self.problem(record_id, current)
            if problem is not None:
                raise UsageError(
                    f"{self.noun} record is invalid ({problem}); fix it with 'token-broker {self.fix_command}' first"
                )
            if current.get(REVOKED_AT):
                raise UsageError(
                    f"{self.noun} {record_id!r} was revoked by {current.get('revoked_by')} at {current[REVOKED_AT]}; "
                    f"grant them again with 'token-broker {self.fix_command}'"
                )
        updated = records.set_fields(self.key(record_id), {"enabled": enabled, **ctx.stamp("updated")})
        if updated is None:
            raise self.not_found(record_id)
        if enabled:
            ctx.note(f"{self.noun} {record_id!r} enabled")
            if self.after_enable is not None:
                self.after_enable(ctx, records, updated)
        else:
            ctx.note(f"{self.noun} {record_id!r} disabled: {self.disabled_effect}; {SESSION_NOTE}")
        ctx.emit(self.json(record_id, updated))
        return EXIT_OK

    def show(self, ctx: Context, args: argparse.Namespace) -> int:
        record_id = self.record_id(ctx, args)
        item = store(ctx, args).get(self.key(record_id))
        if item is None:
            raise self.not_found(record_id)
        ctx.emit(self.json(record_id, item))
        problem = self.problem(record_id, item)
        if problem is not None:
            ctx.error(f"{self.noun} record is invalid ({problem}): {self.invalid_effect}")
            return EXIT_FAILURE
        return EXIT_OK

    def print_list(
        self,
        ctx: Context,
        records: Iterable[tuple[str, dict[str, Any]]],
        columns: Sequence[str],
    ) -> int:
        """Records by ID: every field in JSON; in text, a header row and ``columns`` (``status`` is computed)."""
        ordered = sorted(records, key=lambda record: record[0])
        if ctx.output_format == "json":
            ctx.emit([self.json(record_id, item) for record_id, item in ordered])
            return EXIT_OK
        rows = [{**self.json(record_id, item), "status": self.status(record_id, item)} for record_id, item in ordered]
        ctx.emit(rows, columns=columns)
        return EXIT_OK
