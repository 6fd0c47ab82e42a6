"""Run under SAM CLI's own interpreter: what `sam deploy --config-env ENV` reads from samconfig.toml.

    .tools/sam/bin/python tests/support/sam_config_reader.py CONFIG_DIR ENV

Prints ``{"parameters": {...}, "overrides": {...}}``: the deploy command's parameters as SAM's ``SamConfig``
merges them (global, then deploy) and ``parameter_overrides`` parsed by SAM's own ``CfnParameterOverridesType``.
Kept free of project imports: SAM's venv has none.
"""

import json
import sys

from samcli.cli.types import CfnParameterOverridesType
from samcli.lib.config.samconfig import SamConfig


def main() -> None:
    config_dir, env = sys.argv[1:3]
    config = SamConfig(config_dir)
    config.sanity_check()
    parameters = config.get_all(["deploy"], "parameters", env=env)
    raw = parameters.get("parameter_overrides", "")
    values = raw if isinstance(raw, list) else [raw]
    overrides = CfnParameterOverridesType().convert(tuple(values), None, None) if raw else {}
    json.dump({"parameters": parameters, "overrides": overrides}, sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main()
