"""template.yaml run locally: the template reader, builders of its AWS resources in moto, the in-process
Lambda runtime and the one place a process running those functions gets its environment."""
