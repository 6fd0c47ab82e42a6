"""Code shared by the token broker and the secret rotation functions (deployed as a Lambda layer)."""
