"""The identity provider's public key, checked at start-up (warehouse.api.config) and used
to verify citizen tokens (warehouse.api.citizen_identity).

Only asymmetric keys of the configured algorithm's kind are accepted (ES256 on P-256,
RS256, EdDSA), so a public key can never be used as an HMAC secret.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

ALGORITHMS = ("ES256", "RS256", "EdDSA")
_KEY_TYPES: dict[str, tuple[type, ...]] = {
    "ES256": (ec.EllipticCurvePublicKey,),
    "RS256": (rsa.RSAPublicKey,),
    "EdDSA": (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey),
}


class CitizenIdentityError(ValueError):
    """The identity provider's key is missing or unusable (the API refuses to start)."""


def load_public_key(pem: str, algorithm: str) -> Any:
    """The provider's public key, checked to be an asymmetric key of `algorithm`'s kind."""
    if algorithm not in ALGORITHMS:
        raise CitizenIdentityError(f"citizen token algorithm must be one of {ALGORITHMS}")
    try:
        key = load_pem_public_key(pem.encode("ascii"))
    except (ValueError, TypeError, UnicodeEncodeError):
        raise CitizenIdentityError("the identity provider key is not a PEM public key") from None
    if algorithm == "ES256" and not (
        isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    ):
        raise CitizenIdentityError("ES256 needs a P-256 public key")
    if not isinstance(key, _KEY_TYPES[algorithm]):
        raise CitizenIdentityError(f"the identity provider key does not fit {algorithm}")
    return key
