"""A local OIDC issuer: one RSA key pair, its JWKS, and tokens signed with it.

The authorizer verifies these tokens exactly as it verifies a real provider's: it fetches the JWKS
from ``jwks_url`` (served by the front door) and checks iss/aud/exp and the stackpilot claims. The
only local thing is who holds the private key: a file under the local state directory.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from functions.shared.models.principal import Principal, Role

ISSUER_PATH = "/local-issuer"
DEFAULT_BASE_URL = "http://127.0.0.1:3000"
AUDIENCE = "stackpilot-api"
KEY_FILE = "private_key.pem"
RSA_BITS = 2048


class LocalIssuer:
    """Mints RS256 tokens for the local cloud; its key survives restarts (tokens stay valid)."""

    audience = AUDIENCE

    def __init__(self, state_dir: Path, *, base_url: str = DEFAULT_BASE_URL) -> None:
        # base_url may be reassigned once the front door knows its port (port 0 in tests).
        self.base_url = base_url
        self._private_key = _load_or_create_key(Path(state_dir) / "issuer")
        self._public_jwk = _public_jwk(self._private_key.public_key())
        self.kid = _thumbprint(self._public_jwk)

    @property
    def base_url(self) -> str:
        return self._base_url

    @base_url.setter
    def base_url(self, value: str) -> None:
        self._base_url = value.rstrip("/")

    @property
    def issuer_url(self) -> str:
        return f"{self._base_url}{ISSUER_PATH}"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer_url}/.well-known/jwks.json"

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self._private_key.public_key()

    def jwks(self) -> dict[str, Any]:
        return {"keys": [{**self._public_jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def openid_configuration(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer_url,
            "jwks_uri": self.jwks_url,
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["id_token", "token"],
            "subject_types_supported": ["public"],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "org_id"],
        }

    def mint(self, org_id: str, user_id: str = "local-user", ttl_seconds: int = 3600) -> str:
        """A token for ``user_id`` acting in ``org_id``, valid for ``ttl_seconds``. It names no role:
        stackpilot looks the member's role up at every request (``infra.local.tenants`` seeds it)."""
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        principal = Principal(user_id=user_id, org_id=org_id, role=Role.VIEWER)
        now = int(time.time())
        return self.sign(
            {
                "iss": self.issuer_url,
                "aud": self.audience,
                "sub": principal.user_id,
                "iat": now,
                "nbf": now,
                "exp": now + ttl_seconds,
                "jti": uuid.uuid4().hex,
                "org_id": principal.org_id,
            }
        )

    def sign(self, claims: Mapping[str, Any], *, headers: Mapping[str, Any] | None = None) -> str:
        """Any claims, RS256 under this issuer's key and kid (tests use it to build bad tokens)."""
        return jwt.encode(
            dict(claims),
            self._private_key,
            algorithm="RS256",
            headers={"kid": self.kid, "typ": "JWT", **(headers or {})},
        )


def _load_or_create_key(directory: Path) -> rsa.RSAPrivateKey:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / KEY_FILE
    if not path.exists():
        _create_key_file(path)
    path.chmod(0o600)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < RSA_BITS:
        raise ValueError(f"{path} is not an RSA key of at least {RSA_BITS} bits")
    return key


def _create_key_file(path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # Written under a private name with 0600 from the start, then linked into place: another
    # process starting at the same moment either wins the link or reads the winner's key.
    partial = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        with contextlib.suppress(FileExistsError):
            os.link(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _public_jwk(public_key: rsa.RSAPublicKey) -> dict[str, str]:
    numbers = public_key.public_numbers()
    return {"kty": "RSA", "n": _b64url_uint(numbers.n), "e": _b64url_uint(numbers.e)}


def _thumbprint(jwk: Mapping[str, str]) -> str:
    """RFC 7638 JWK thumbprint: the kid changes exactly when the key does."""
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
