"""Who the citizen app acts for: one patient, named by a token of the identity provider.

Every citizen-app call carries `Authorization: Bearer <JWT>`, a short-lived token the
identity provider (e.g. ThaID) issued to the person holding the phone and signed with its
private key. The API holds only the provider's PUBLIC key, so nobody with access to the API
host or its settings can mint a token. The token's subject (`sub`) is the patient's
pseudonymous key: the citizen app acts for that patient only. A path naming another key
answers exactly as a key that does not exist (404), and the app's own credential, a
physician's session token or anything else that is not such a token answers 401.

Checked on every call: the signature with the one configured algorithm (ES256, RS256 or
EdDSA; never `none` or an HMAC algorithm, so the public key cannot be used as an HMAC
secret), `exp`, `iat` (not in the future), `iss`, `aud`, a subject of the key's shape, and a
lifetime (`exp - iat`) of at most `citizen_token_max_lifetime_seconds` (15 minutes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, status

from warehouse.api.config import ApiSettings
from warehouse.api.deps import BearerToken, Context
from warehouse.api.idp_key import load_public_key

# consent.event.recorded_by of what a patient did in the citizen app (operators record
# "operator:<name>", see warehouse/cli/consent.py).
RECORDED_BY_CITIZEN = "citizen"

_PATIENT_KEY = re.compile(r"^[0-9a-f]{32}$")
_REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]


@dataclass(frozen=True)
class Citizen:
    """The patient the current citizen-app call acts for."""

    patient_key: str


@dataclass(frozen=True)
class CitizenTokenVerifier:
    key: Any
    algorithm: str
    issuer: str
    audience: str
    max_lifetime_seconds: int
    leeway_seconds: int

    def patient_key(self, token: str) -> str | None:
        """The subject of a valid token, None for anything else (never raises)."""
        try:
            claims = jwt.decode(
                token,
                self.key,
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_seconds,
                options={"require": _REQUIRED_CLAIMS, "verify_iat": True},
            )
        except (jwt.InvalidTokenError, ValueError, TypeError):
            return None
        issued, expires, subject = claims["iat"], claims["exp"], claims["sub"]
        if not isinstance(issued, int | float) or not isinstance(expires, int | float):
            return None
        if expires - issued > self.max_lifetime_seconds or expires <= issued:
            return None  # a long-lived token is a stolen-token risk: refuse it outright
        if not isinstance(subject, str) or not _PATIENT_KEY.fullmatch(subject):
            return None
        return subject


@lru_cache(maxsize=4)
def _verifier(
    pem: str, algorithm: str, issuer: str, audience: str, lifetime: int, leeway: int
) -> CitizenTokenVerifier:
    return CitizenTokenVerifier(
        load_public_key(pem, algorithm), algorithm, issuer, audience, lifetime, leeway
    )


def verifier_for(api: ApiSettings) -> CitizenTokenVerifier | None:
    """None when no provider key is configured: the citizen endpoints then refuse (503)."""
    pem = api.citizen_idp_public_key_pem()
    if not pem:
        return None
    return _verifier(
        pem,
        api.citizen_idp_algorithm,
        api.citizen_idp_issuer,
        api.citizen_idp_audience,
        api.citizen_token_max_lifetime_seconds,
        api.citizen_token_leeway_seconds,
    )


def _unauthenticated() -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, "not_authenticated", {"WWW-Authenticate": "Bearer"}
    )


def current_citizen(token: BearerToken, context: Context) -> Citizen:
    """FastAPI dependency: the patient this call acts for, or 401 (503 when unconfigured)."""
    verifier = verifier_for(context.api)
    if verifier is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "citizen_identity_not_configured")
    patient_key = verifier.patient_key(token)
    if patient_key is None:
        raise _unauthenticated()
    return Citizen(patient_key)


CurrentCitizen = Annotated[Citizen, Depends(current_citizen)]
