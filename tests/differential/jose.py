"""Key material, a Cognito-shaped JWKS and a JWS encoder that can also write what a normal encoder refuses to.

The corpus needs tokens no JWT library would produce (NaN or 1e400 in a claim, duplicate keys, a payload that
is a JSON array, a header signed with one algorithm and labelled with another), so tokens are assembled here
segment by segment with ``cryptography`` doing only the signing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

SIGNING_KID = "cognito-key-1"  # the key Cognito is "currently" signing with
SECOND_KID = "cognito-key-2"  # Cognito publishes two RSA keys; either may sign
EC_KID = "not-cognito-ec"  # a non-RSA key in the set: Cognito never publishes one
ENC_KID = "not-cognito-enc"  # an RSA key marked for encryption, not signatures


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class RawJson:
    """JSON text written as is: for values ``json.dumps`` cannot express (``1e400``) or would normalise."""

    def __init__(self, text: str) -> None:
        self.text = text


def dumps(value: Any) -> str:
    """Compact JSON like Cognito's, with ``RawJson`` values (at any depth) spliced in verbatim."""
    raws: dict[str, str] = {}

    def substitute(item: Any) -> Any:
        if isinstance(item, RawJson):
            marker = f"\u0000raw{len(raws)}\u0000"
            raws[json.dumps(marker)] = item.text
            return marker
        if isinstance(item, Mapping):
            return {key: substitute(inner) for key, inner in item.items()}
        if isinstance(item, list):
            return [substitute(inner) for inner in item]
        return item

    text = json.dumps(substitute(value), separators=(",", ":"), ensure_ascii=False)
    for marker, raw in raws.items():
        text = text.replace(marker, raw)
    return text


@dataclass(frozen=True)
class Keys:
    signing: rsa.RSAPrivateKey
    second: rsa.RSAPrivateKey
    stranger: rsa.RSAPrivateKey  # not in the JWKS
    ec_key: ec.EllipticCurvePrivateKey
    enc_key: rsa.RSAPrivateKey

    @classmethod
    def generate(cls) -> Keys:
        def rsa_key() -> rsa.RSAPrivateKey:
            return rsa.generate_private_key(public_exponent=65537, key_size=2048)

        return cls(
            signing=rsa_key(),
            second=rsa_key(),
            stranger=rsa_key(),
            ec_key=ec.generate_private_key(ec.SECP256R1()),
            enc_key=rsa_key(),
        )

    def jwks(self) -> dict[str, Any]:
        """The key set as Cognito publishes it (kid, alg RS256, kty, e, n, use sig) plus two keys it never would."""

        def rsa_jwk(key: rsa.RSAPrivateKey, kid: str, use: str) -> dict[str, str]:
            numbers = key.public_key().public_numbers()
            return {
                "alg": "RS256",
                "e": _int_b64(numbers.e),
                "kid": kid,
                "kty": "RSA",
                "n": _int_b64(numbers.n),
                "use": use,
            }

        ec_numbers = self.ec_key.public_key().public_numbers()
        ec_jwk = {
            "alg": "ES256",
            "crv": "P-256",
            "kid": EC_KID,
            "kty": "EC",
            "use": "sig",
            "x": b64url(ec_numbers.x.to_bytes(32, "big")),
            "y": b64url(ec_numbers.y.to_bytes(32, "big")),
        }
        return {
            "keys": [
                rsa_jwk(self.signing, SIGNING_KID, "sig"),
                rsa_jwk(self.second, SECOND_KID, "sig"),
                ec_jwk,
                rsa_jwk(self.enc_key, ENC_KID, "enc"),
            ]
        }

    def public_pem(self) -> bytes:
        return self.signing.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


_RSA_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "RS256": hashes.SHA256,
    "RS384": hashes.SHA384,
    "RS512": hashes.SHA512,
}


@dataclass(frozen=True)
class Signer:
    """How the signature segment is made: an algorithm applied with one key, whatever the header claims."""

    alg: str  # RS256 | RS384 | RS512 | ES256 | HS256 | none
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | bytes | None

    def sign(self, signing_input: bytes) -> bytes:
        if self.alg in _RSA_HASHES:
            assert isinstance(self.key, rsa.RSAPrivateKey)
            return self.key.sign(signing_input, padding.PKCS1v15(), _RSA_HASHES[self.alg]())
        if self.alg == "ES256":
            assert isinstance(self.key, ec.EllipticCurvePrivateKey)
            r, s = decode_dss_signature(self.key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        if self.alg == "HS256":
            assert isinstance(self.key, bytes)
            return hmac.new(self.key, signing_input, hashlib.sha256).digest()
        if self.alg == "none":
            return b""
        raise ValueError(f"unknown signing algorithm {self.alg}")


def encode(header_json: str, payload_json: str, signer: Signer) -> str:
    header_b64 = b64url(header_json.encode("utf-8"))
    payload_b64 = b64url(payload_json.encode("utf-8"))
    signing_input = f"{header_b64}.{payload_b64}".encode("ascii")
    return f"{header_b64}.{payload_b64}.{b64url(signer.sign(signing_input))}"
