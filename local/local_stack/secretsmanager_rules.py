"""Make moto's Secrets Manager refuse ``RotateSecret`` while a previous rotation is unfinished, as AWS does.

AWS (RotateSecret API reference; "Troubleshoot rotation",
https://docs.aws.amazon.com/secretsmanager/latest/userguide/troubleshoot_rotation.html): when a rotation fails,
AWSPENDING may stay on a version - possibly an empty one - and while AWSPENDING is attached to a version that
is not AWSCURRENT, every later ``RotateSecret`` "assumes that a previous rotation request is still in
progress and returns an error" (``InvalidRequestException``: "A previous rotation isn't complete. That
rotation will be reattempted."). AWSPENDING on the AWSCURRENT version (a finished rotation) does not block.

moto 5 does neither: it silently moves AWSPENDING to the new version, and refuses the one state AWS accepts
(AWSPENDING together with AWSCURRENT). A stuck rotation would then look recoverable locally and stay stuck in
AWS. This module wraps moto's backend ``rotate_secret`` - emulation, not the project's code - with AWS's rule.
moto's server runs in-process here (the local stack and the tests' ``ThreadedMotoServer``), so patching its
backend class is enough: the local stack calls ``install()`` (idempotent); tests set ``rotate_secret_as_aws``
on ``SecretsManagerBackend`` with pytest's ``monkeypatch``, so it is undone after each test.
"""

from __future__ import annotations

from typing import Any, Final

from moto.secretsmanager.exceptions import InvalidRequestException
from moto.secretsmanager.models import SecretsManagerBackend

PREVIOUS_ROTATION_NOT_COMPLETE: Final = "A previous rotation isn't complete. That rotation will be reattempted."

# moto's own method, captured when this module is first imported (before anything patches it)
moto_rotate_secret: Any = SecretsManagerBackend.rotate_secret


def unfinished_rotation(backend: SecretsManagerBackend, secret_id: str) -> str | None:
    """The version holding AWSPENDING without AWSCURRENT (a rotation AWS considers still in progress)."""
    if not backend._is_valid_identifier(secret_id):
        return None  # moto's own method raises the right error for an unknown secret
    for version_id, version in backend.secrets[secret_id].versions.items():
        stages = version.get("version_stages", [])
        if "AWSPENDING" in stages and "AWSCURRENT" not in stages:
            return str(version_id)
    return None


def rotate_secret_as_aws(self: SecretsManagerBackend, secret_id: str, *args: Any, **kwargs: Any) -> Any:
    if unfinished_rotation(self, secret_id) is not None:
        raise InvalidRequestException(PREVIOUS_ROTATION_NOT_COMPLETE)
    if self._is_valid_identifier(secret_id):
        # AWS accepts AWSPENDING left on the current version by a finished rotation and moves it to the new
        # version; moto refuses that state, so take the label off first (moto then attaches it to the new one).
        for version in self.secrets[secret_id].versions.values():
            stages = version.get("version_stages", [])
            if "AWSPENDING" in stages and "AWSCURRENT" in stages:
                stages.remove("AWSPENDING")
    return moto_rotate_secret(self, secret_id, *args, **kwargs)


def install() -> None:
    """Enforce AWS's rule in every moto Secrets Manager backend of this process (idempotent)."""
    SecretsManagerBackend.rotate_secret = rotate_secret_as_aws  # type: ignore[method-assign]
