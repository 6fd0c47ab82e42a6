"""``token-broker``: the operator CLI for tenants, users, the connected-app secret and token inspection.

Layout (one module per command group, so new subcommands are one module plus one line in
``commands/__init__.py``):

* ``main`` - the parser, dispatch and the single place that turns every failure into one line and an exit code;
* ``context`` - the AWS session/clients (profile, region, endpoint) and I/O shared by all commands;
* ``store`` - DynamoDB reads and conditional writes of entitlement records;
* ``validation`` - input rules layered on top of ``tableau_broker`` (which stays the source of truth);
* ``commands/`` - ``tenant``, ``user``, ``secret``, ``inspect``.
"""
