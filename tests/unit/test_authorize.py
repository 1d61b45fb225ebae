"""The authorizer's logic with an in-memory key set: who gets in, and what the API learns about them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError

from functions.shared.models.principal import Role
from functions.tenancy.exceptions import AccessDenied, InvalidToken, KeySetUnavailable
from functions.tenancy.logic.authorize import (
    AuthorizerDeps,
    TokenVerifier,
    VerifiedUser,
    authorize,
    bearer_token,
    policy,
)
from functions.tenancy.settings import AuthorizerSettings as TenancySettings
from functions.tenancy.settings import get_authorizer_settings as get_settings
from infra.local.issuer import LocalIssuer
from tests.fakes.accounts import FakeClock
from tests.fakes.tenancy import InMemoryTenancy, StaticPepper

METHOD_ARN = "arn:aws:execute-api:eu-west-1:111122223333:a1b2c3/prod/GET/accounts/conn-1"


class InMemoryKeys:
    """KeyResolver fake: a fixed key set, counting lookups."""

    def __init__(self, keys: dict[str, Any]) -> None:
        self._keys = keys
        self.lookups = 0

    def public_key(self, kid: str) -> Any:
        self.lookups += 1
        if kid not in self._keys:
            raise InvalidToken("unknown kid")
        return self._keys[kid]


class UnreachableKeys:
    """KeyResolver fake for an issuer whose JWKS cannot be fetched."""

    def public_key(self, kid: str) -> Any:
        raise KeySetUnavailable("JWKS unreachable")


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> LocalIssuer:
    return LocalIssuer(tmp_path_factory.mktemp("state"), base_url="https://issuer.example")


@pytest.fixture
def keys(issuer: LocalIssuer) -> InMemoryKeys:
    return InMemoryKeys({issuer.kid: issuer.public_key})


@pytest.fixture
def verifier(issuer: LocalIssuer, keys: InMemoryKeys) -> TokenVerifier:
    return TokenVerifier(keys, issuer=issuer.issuer_url, audience=issuer.audience, leeway_seconds=10)


def claims(issuer: LocalIssuer, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": issuer.issuer_url,
        "aud": issuer.audience,
        "sub": "user-42",
        "iat": now,
        "exp": now + 600,
        "org_id": "org_acme",
        "role": "contributor",
    }
    return {**base, **overrides}


def test_a_valid_token_names_the_caller_and_org_never_a_role(
    issuer: LocalIssuer, verifier: TokenVerifier
) -> None:
    # GIVEN a token the issuer minted
    token = issuer.mint("org_acme", user_id="user-42")

    # WHEN it is verified
    user = verifier.verify(token)

    # THEN the caller and their org are known; the role is looked up elsewhere
    assert user == VerifiedUser(user_id="user-42", org_id="org_acme")


def test_a_role_claim_in_a_token_is_ignored(issuer: LocalIssuer, verifier: TokenVerifier) -> None:
    # GIVEN a viewer whose token claims owner
    store = InMemoryTenancy()
    _member(store, "user-42", Role.VIEWER)
    token = issuer.sign(claims(issuer, role="owner"))
    event = _event(token, "DELETE", "/accounts/{connection_id}")

    # WHEN they try an admin route THEN the looked-up role decides: refused
    with pytest.raises(Exception, match="needs role admin"):
        authorize(event, _deps(verifier, store))


def test_the_authorizer_allows_exactly_the_method_called_and_passes_string_context(
    issuer: LocalIssuer, verifier: TokenVerifier
) -> None:
    # GIVEN a viewer with a valid bearer token
    store = InMemoryTenancy()
    _member(store, "user-42", Role.VIEWER)
    event = _event(issuer.mint("org_acme", user_id="user-42"), "GET", "/accounts/{connection_id}")

    # WHEN the authorizer decides
    answer = authorize(event, _deps(verifier, store))

    # THEN the policy covers the method called (never cached: TTL 0)
    assert answer["principalId"] == "user-42"
    assert answer["policyDocument"] == {
        "Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": METHOD_ARN}],
    }
    # AND the context carries strings only, as API Gateway requires
    assert answer["context"] == {
        "org_id": "org_acme",
        "role": "viewer",
        "user_id": "user-42",
        "principal_type": "user",
    }


def test_an_audience_list_that_includes_ours_is_accepted(
    issuer: LocalIssuer, verifier: TokenVerifier
) -> None:
    token = issuer.sign(claims(issuer, aud=["https://other.example", issuer.audience]))
    assert verifier.verify(token).org_id == "org_acme"


def test_clock_skew_within_the_leeway_is_tolerated(issuer: LocalIssuer, verifier: TokenVerifier) -> None:
    now = int(time.time())
    token = issuer.sign(claims(issuer, exp=now - 5, iat=now - 600, nbf=now + 5))
    assert verifier.verify(token).user_id == "user-42"


def test_expiry_beyond_the_leeway_is_refused(issuer: LocalIssuer, verifier: TokenVerifier) -> None:
    token = issuer.sign(claims(issuer, exp=int(time.time()) - 31))
    with pytest.raises(InvalidToken, match="ExpiredSignatureError"):
        verifier.verify(token)


def test_junk_never_reaches_the_key_set(verifier: TokenVerifier, keys: InMemoryKeys) -> None:
    # A refetch of the JWKS per garbage token would let anyone hammer the issuer through us.
    for junk in ["", "x" * 20_000, "a.b", "a.b.c.d", "not a token", "e30.e30.", "e30.e30.c2ln"]:
        with pytest.raises(InvalidToken):
            verifier.verify(junk)
    assert keys.lookups == 0


def test_an_unreachable_key_set_is_not_the_callers_fault(issuer: LocalIssuer) -> None:
    # GIVEN an issuer whose JWKS cannot be fetched
    verifier = TokenVerifier(UnreachableKeys(), issuer=issuer.issuer_url, audience=issuer.audience)

    # WHEN a well-formed token arrives THEN the failure is ours (a 5xx), not a 401
    with pytest.raises(KeySetUnavailable):
        verifier.verify(issuer.mint("org_acme"))


@pytest.mark.parametrize(
    ("headers", "multi"),
    [
        ({"Authorization": "Bearer abc.def.ghi"}, None),
        ({"authorization": "Bearer abc.def.ghi"}, None),
        ({"AUTHORIZATION": "bearer abc.def.ghi"}, None),
        ({"Authorization": "BEARER   abc.def.ghi  "}, None),
        (None, {"authorization": ["Bearer abc.def.ghi"]}),
        ({"Authorization": "stale"}, {"Authorization": ["Bearer abc.def.ghi"]}),
    ],
)
def test_the_bearer_token_is_found_whatever_the_case(
    headers: dict[str, str] | None, multi: dict[str, list[str]] | None
) -> None:
    assert bearer_token(headers, multi) == "abc.def.ghi"


@pytest.mark.parametrize(
    ("headers", "multi"),
    [
        (None, None),
        ({}, {}),
        ({"X-Authorization": "Bearer abc.def.ghi"}, None),
        (None, {"Authorization": ["Bearer a.b.c", "Bearer d.e.f"]}),
        ({"Authorization": "Bearer a.b.c", "authorization": "Bearer d.e.f"}, None),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, None),
        ({"Authorization": "Bearer"}, None),
        ({"Authorization": "Bearer a.b.c extra"}, None),
        ({"Authorization": "Bearera.b.c"}, None),
    ],
)
def test_anything_but_one_bearer_credential_is_refused(
    headers: dict[str, str] | None, multi: dict[str, list[str]] | None
) -> None:
    with pytest.raises(InvalidToken):
        bearer_token(headers, multi)


@pytest.mark.parametrize(
    "method_arn",
    [
        "arn:aws:execute-api:eu-west-1:111122223333:a1b2c3",
        "arn:aws:lambda:eu-west-1:111122223333:function:f",
        "not an arn",
    ],
)
def test_a_method_arn_that_names_no_stage_is_a_configuration_error(method_arn: str) -> None:
    with pytest.raises(ValueError, match="methodArn"):
        policy("Allow", "u", method_arn, {})


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_a_weak_issuer_key_is_refused(issuer: LocalIssuer) -> None:
    # GIVEN an issuer that signs with a 1024-bit key
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - on purpose
    token = jwt.encode(claims(issuer), weak, algorithm="RS256", headers={"kid": "weak"})
    verifier = TokenVerifier(
        InMemoryKeys({"weak": weak.public_key()}), issuer=issuer.issuer_url, audience=issuer.audience
    )

    # THEN its tokens are refused, even correctly signed
    with pytest.raises(InvalidToken):
        verifier.verify(token)


# -- settings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "jwks_url",
    [
        "https://issuer.example/.well-known/jwks.json",
        "http://127.0.0.1:3000/local-issuer/.well-known/jwks.json",
        "http://localhost:3000/jwks",
        "http://[::1]:3000/jwks",
    ],
)
def test_settings_accept_https_or_loopback_jwks(jwks_url: str) -> None:
    settings = TenancySettings(jwt_issuer="https://i", jwt_audience="a", jwks_url=jwks_url)
    assert settings.jwks_url == jwks_url


@pytest.mark.parametrize(
    "jwks_url", ["http://issuer.example/jwks", "file:///etc/passwd", "ftp://x/jwks", "https:///jwks", ""]
)
def test_settings_refuse_a_jwks_anyone_on_the_path_could_replace(jwks_url: str) -> None:
    with pytest.raises(ValidationError):
        TenancySettings(jwt_issuer="https://i", jwt_audience="a", jwks_url=jwks_url)


def test_settings_cap_the_clock_leeway() -> None:
    with pytest.raises(ValidationError):
        TenancySettings(
            jwt_issuer="https://i", jwt_audience="a", jwks_url="https://i/j", jwt_leeway_seconds=31
        )


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # GIVEN the function's environment (nothing was read at import time)
    monkeypatch.setenv("JWT_ISSUER", "https://issuer.example")
    monkeypatch.setenv("JWT_AUDIENCE", "stackpilot-api")
    monkeypatch.setenv("JWKS_URL", "https://issuer.example/.well-known/jwks.json")
    get_settings.cache_clear()
    try:
        # WHEN settings are read THEN they are the environment's
        settings = get_settings()
        assert (settings.jwt_issuer, settings.jwt_audience) == ("https://issuer.example", "stackpilot-api")
        assert settings.jwt_leeway_seconds <= 30
    finally:
        get_settings.cache_clear()


def _member(store: InMemoryTenancy, user_id: str, role: Role, org_id: str = "org_acme") -> None:
    from datetime import UTC, datetime

    from functions.tenancy.models.org import Member

    now = datetime.now(UTC)
    store.members[(org_id, user_id)] = Member(
        org_id=org_id, user_id=user_id, role=role, added_by="test", added_at=now, updated_at=now
    )


def _event(token: str, method: str, resource: str) -> dict[str, Any]:
    return {
        "type": "REQUEST",
        "methodArn": METHOD_ARN,
        "httpMethod": method,
        "resource": resource,
        "path": resource,
        "headers": {"Authorization": f"Bearer {token}"},
        "requestContext": {"requestId": "req-1", "identity": {"sourceIp": "198.51.100.7"}},
    }


def _deps(verifier: TokenVerifier, store: InMemoryTenancy) -> AuthorizerDeps:
    return AuthorizerDeps(
        verifier=verifier, keys=store, pepper=StaticPepper(), audit=store.audit, clock=FakeClock()
    )


def test_a_denial_stands_when_its_audit_entry_cannot_be_written(
    issuer: LocalIssuer, verifier: TokenVerifier
) -> None:
    # GIVEN a viewer, and an audit log that refuses writes
    store = InMemoryTenancy()
    _member(store, "user-42", Role.VIEWER)
    store.audit.fail = True
    event = _event(issuer.mint("org_acme", user_id="user-42"), "DELETE", "/accounts/{connection_id}")

    # WHEN they try an admin route THEN the answer is still the denial (a 403, not a 500),
    # carrying why it went unrecorded for the operators' log line
    with pytest.raises(AccessDenied) as denied:
        authorize(event, _deps(verifier, store))
    assert "needs role admin" in denied.value.reason
    assert denied.value.unrecorded == "audit log unavailable"
    assert store.audit.chains.get("org_acme", []) == []
