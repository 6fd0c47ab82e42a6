"""``python -m token_broker_cli`` - the same entry point as the ``token-broker`` console script."""

from token_broker_cli.main import main

raise SystemExit(main())
