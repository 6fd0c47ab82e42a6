"""Hand-built JWTs for the attack catalogue.

moto signs the tokens of every user pool with one fixed RSA key shipped in its package
(``moto/cognitoidp/resources/jwks-private.json``, kid ``dummy``) and serves its public half as each pool's JWKS.
Signing with it gives tokens whose signature verifies but whose claims Cognito would never issue: exactly what
the broker must still judge. Everything else here (unsigned, HMAC-confused, attacker-keyed) is what an attacker
can build without any key.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from jwt.algorithms import RSAAlgorithm
from moto.utilities.utils import load_resource

POOL_KID = "dummy"
HMAC_HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_json(value: Any) -> str:
    # allow_nan: json.dumps writes NaN/Infinity literals, as a hostile encoder would.
    return b64url(json.dumps(value, separators=(",", ":"), allow_nan=True).encode("utf-8"))


@functools.cache
def pool_private_key() -> RSAPrivateKey:
    key = RSAAlgorithm.from_jwk(json.dumps(load_resource("cognitoidp/resources/jwks-private.json")))
    assert isinstance(key, RSAPrivateKey)
    return key


def pool_public_key() -> RSAPublicKey:
    return pool_private_key().public_key()


def pool_public_forms() -> dict[str, bytes]:
    """Every form of the pool's public key an attacker could use as an HMAC secret."""
    public = pool_public_key()
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return {
        "pem": pem,
        "pem-pkcs1": public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1),
        "der": public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
        "jwk": RSAAlgorithm.to_jwk(public).encode("utf-8"),
        "pem-no-newline": pem.rstrip(b"\n"),
    }


@functools.cache
def attacker_key() -> RSAPrivateKey:
    """The attacker's own RSA key (one per run: generating 2048-bit keys is slow)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def rs256(signing_input: bytes, key: RSAPrivateKey) -> bytes:
    return key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())


def build(
    header: dict[str, Any], payload: Any, *, key: RSAPrivateKey | None = None, raw_payload: str | None = None
) -> str:
    """A compact JWT: ``payload`` JSON-encoded (or ``raw_payload`` as given), RS256-signed with ``key`` (default:
    the pool's key)."""
    signing_input = f"{b64url_json(header)}.{raw_payload if raw_payload is not None else b64url_json(payload)}"
    signature = rs256(signing_input.encode("ascii"), key or pool_private_key())
    return f"{signing_input}.{b64url(signature)}"


def signed(claims: dict[str, Any], **header: Any) -> str:
    """Claims signed by the pool's own key: the signature verifies."""
    return build({"alg": "RS256", "kid": POOL_KID, "typ": "JWT", **header}, claims)


def hmac_signed(claims: dict[str, Any], alg: str, secret: bytes) -> str:
    signing_input = f"{b64url_json({'alg': alg, 'kid': POOL_KID, 'typ': 'JWT'})}.{b64url_json(claims)}"
    digest = hmac.new(secret, signing_input.encode("ascii"), HMAC_HASHES[alg]).digest()
    return f"{signing_input}.{b64url(digest)}"


def unsigned(claims: dict[str, Any], alg: str, signature: str = "") -> str:
    return f"{b64url_json({'alg': alg, 'kid': POOL_KID, 'typ': 'JWT'})}.{b64url_json(claims)}.{signature}"


def split(token: str) -> tuple[str, str, str]:
    head, payload, signature = token.split(".")
    return head, payload, signature


def claims_of(token: str) -> dict[str, Any]:
    payload = split(token)[1]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return data
