"""Run under SAM CLI's own interpreter: resolve each function's environment as ``sam local invoke --env-vars``.

    .tools/sam/bin/python tests/support/sam_env_resolver.py TEMPLATE ENV_FILE REGION

Prints ``{function logical ID: {VARIABLE: value}}`` for the template's own variables (not SAM's AWS_* ones), as
SAM's ``SamLocalStackProvider``/``SamFunctionProvider`` read the template (no parameter overrides, as a plain
``sam local invoke`` does) and ``LocalLambdaRunner._make_env_vars`` applies the env file. No Docker is involved:
resolving variables happens before a container is started. Kept free of project imports: SAM's venv has none.
"""

import json
import sys

from samcli.commands.local.lib.local_lambda import LocalLambdaRunner
from samcli.lib.cfn_language_extensions.sam_integration import resolve_language_extensions_enabled
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider


def main() -> None:
    template_path, env_path, region = sys.argv[1:4]
    stacks, _ = SamLocalStackProvider.get_stacks(
        template_path,
        parameter_overrides=None,
        global_parameter_overrides={"AWS::Region": region},
        # As `sam local invoke` decides it: SAM_CLI_ENABLE_LANGUAGE_EXTENSIONS (template.yaml uses Fn::ForEach).
        language_extensions_enabled=resolve_language_extensions_enabled(None),
    )
    provider = SamFunctionProvider(stacks)
    with open(env_path, encoding="utf-8") as handle:
        env_values = json.load(handle)
    runner = LocalLambdaRunner(
        local_runtime=None,
        function_provider=provider,
        cwd=".",
        real_path=".",
        env_vars_values=env_values,
        aws_region=region,
    )
    result = {}
    for function in provider.get_all():
        declared = (function.environment or {}).get("Variables", {})
        resolved = runner._make_env_vars(function).resolve()
        result[function.name] = {name: resolved[name] for name in declared}
    json.dump(result, sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main()
