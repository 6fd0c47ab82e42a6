"""Command groups. Each module exposes ``register(subparsers, parents)`` and sets ``handler`` on its parsers;
adding a command (e.g. ``rotate-now``) is a new module here plus one entry in ``COMMAND_MODULES``.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from token_broker_cli.commands import admin_secret, inspection, rotation, secret, tenant, user
from token_broker_cli.parser import Parents, Subparsers

Register = Callable[[Subparsers, Parents], None]

COMMAND_MODULES: tuple[ModuleType, ...] = (tenant, user, secret, admin_secret, rotation, inspection)


def register_all(commands: Subparsers, parents: Parents) -> None:
    for module in COMMAND_MODULES:
        register: Register = module.register
        register(commands, parents)
