"""API configuration, read from the environment (prefix HEALTHLINK_API_).

The warehouse itself (home, DuckDB file or PostgreSQL URL) comes from warehouse.settings;
this class only holds what the API adds. It holds no development secret: the citizen
identity provider's key is public, and without one the citizen endpoints refuse.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from warehouse.api.idp_key import CitizenIdentityError, load_public_key


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HEALTHLINK_API_", extra="ignore", hide_input_in_errors=True
    )

    # Short-lived physician sessions; each request checks expiry and suspension.
    token_ttl_minutes: int = 30
    # Login throttle (warehouse/api/throttle.py): wrong pincodes per licence (or admin name)
    # and client address before a lock; locks start short and double up to the cap.
    lockout_failures: int = 5
    lockout_first_minutes: float = 1.0
    lockout_max_minutes: float = 60.0
    # Failed logins of one client address across every licence and admin name.
    login_address_failures: int = 50
    # Request limits (warehouse/api/limits.py). Counters live in the warehouse (api.rate_limit),
    # so every API worker shares them; a window starts at an actor's first request.
    # Searches per actor (physician licence, else session token) per minute:
    search_per_minute: int = Field(default=30, ge=1)
    # Other patient-touching requests (record, FHIR, per-visit, break-glass, citizen app)
    # per actor per minute, and every patient-touching request per client address per minute
    # (a hospital's physicians may share one address behind NAT: keep it generous).
    patient_per_minute: int = Field(default=60, ge=1)
    address_per_minute: int = Field(default=600, ge=1)
    # Request bodies above this many bytes are refused with 413 (declared or streamed).
    body_limit_bytes: int = Field(default=64 * 1024, ge=1024)
    # Swagger UI at /docs (served from the app's own files, never a CDN); the OpenAPI
    # document stays at /openapi.json.
    docs_enabled: bool = True
    # The citizen app acts for one patient per call, with a short-lived token the identity
    # provider signed (warehouse/api/citizen_identity.py). Only the provider's PUBLIC key is
    # configured here, as PEM text or a file; without one the citizen endpoints answer 503.
    citizen_idp_public_key: str = ""
    citizen_idp_public_key_file: Path | None = None
    citizen_idp_algorithm: Literal["ES256", "RS256", "EdDSA"] = "ES256"
    citizen_idp_issuer: str = "https://idp.healthlink.invalid"
    citizen_idp_audience: str = "healthlink-citizen-api"
    # A token living longer than this (exp - iat) is refused, whatever it says.
    citizen_token_max_lifetime_seconds: int = Field(default=900, ge=30, le=900)
    citizen_token_leeway_seconds: int = Field(default=30, ge=0, le=120)
    terms_version: str = "2026-01"
    # PostgreSQL only (warehouse/storage/pool.py): the URLs the API connects with. Empty:
    # HEALTHLINK_WAREHOUSE's host and database as healthlink_api / healthlink_citizen_app.
    warehouse_url: SecretStr = SecretStr("")
    consent_service_url: SecretStr = SecretStr("")

    def citizen_idp_public_key_pem(self) -> str:
        """The identity provider's public key (PEM), "" when none is configured."""
        if self.citizen_idp_public_key.strip():
            return self.citizen_idp_public_key.strip()
        if self.citizen_idp_public_key_file is not None:
            return self.citizen_idp_public_key_file.read_text(encoding="ascii").strip()
        return ""

    @model_validator(mode="after")
    def _check_citizen_identity(self) -> ApiSettings:
        """A configured provider key must be usable: the API fails at start, not per call."""
        try:
            pem = self.citizen_idp_public_key_pem()
        except (OSError, UnicodeDecodeError):
            raise ValueError("HEALTHLINK_API_CITIZEN_IDP_PUBLIC_KEY_FILE cannot be read") from None
        if pem:
            try:
                load_public_key(pem, self.citizen_idp_algorithm)
            except CitizenIdentityError as error:
                raise ValueError(f"HEALTHLINK_API_CITIZEN_IDP_PUBLIC_KEY: {error}") from None
        return self


@lru_cache(maxsize=1)
def get_api_settings() -> ApiSettings:
    return ApiSettings()
