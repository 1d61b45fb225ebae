"""A corpus of hostile and broken tokens against the authorizer Lambda's entry point.

Every bad token must end in ``Exception("Unauthorized")`` exactly (API Gateway's 401) and nothing
else: a different exception would be a 500, and a return value would let the caller in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from functions.shared.models.principal import Role
from functions.tenancy.exceptions import InvalidToken
from functions.tenancy.handlers import authorizer as authorizer_handler
from functions.tenancy.logic.authorize import AuthorizerDeps, TokenVerifier
from functions.tenancy.models.org import Member
from tests.fakes.accounts import FakeClock
from tests.fakes.tenancy import InMemoryTenancy, StaticPepper

ISSUER = "https://issuer.example/"
AUDIENCE = "stackpilot-api"
KID = "trusted-2026"
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:api123/prod/POST/accounts"

TRUSTED = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ATTACKER = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ATTACKER_EC = ec.generate_private_key(ec.SECP256R1())
PUBLIC_PEM = TRUSTED.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)


class InMemoryKeys:
    """KeyResolver fake: the trusted issuer publishes exactly one key, under ``KID``."""

    def __init__(self) -> None:
        self.lookups = 0

    def public_key(self, kid: str) -> Any:
        self.lookups += 1
        if kid != KID:
            raise InvalidToken("unknown kid")
        return TRUSTED.public_key()


@dataclass
class LambdaContext:
    function_name: str = "stackpilot-test-tenancy-authorizer"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:stackpilot-test-tenancy-authorizer"
    )
    aws_request_id: str = "req-1"


# -- token builders ------------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64json(value: Any) -> str:
    return b64(json.dumps(value).encode("utf-8"))


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-42",
        "iat": now,
        "exp": now + 600,
        "org_id": "org_acme",
        "role": "admin",
    }
    return {k: v for k, v in {**base, **overrides}.items() if v is not _DROP}


_DROP = object()


def sign(payload: dict[str, Any], *, key: Any = TRUSTED, alg: str = "RS256", **headers: Any) -> str:
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": KID, **headers})


def rs256_raw(header: Any, payload_segment: str, key: rsa.RSAPrivateKey = TRUSTED) -> str:
    """RS256 over arbitrary header/payload segments (PyJWT would refuse to build some of these)."""
    signing_input = f"{b64json(header)}.{payload_segment}".encode("ascii")
    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input.decode('ascii')}.{b64(signature)}"


def hs256_with_public_pem() -> str:
    # The classic alg confusion: the verifier's RSA public key used as an HMAC secret.
    signing_input = f"{b64json({'alg': 'HS256', 'typ': 'JWT', 'kid': KID})}.{b64json(claims())}"
    mac = hmac.new(PUBLIC_PEM, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def attacker_jwk() -> dict[str, Any]:
    return json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(ATTACKER.public_key()))


def good() -> str:
    return sign(claims())


def swap_payload(token: str, payload: dict[str, Any]) -> str:
    header, _, signature = token.split(".")
    return f"{header}.{b64json(payload)}.{signature}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- the corpus ----------------------------------------------------------------------------------

NOW = int(time.time())

BAD: dict[str, Callable[[], dict[str, Any]]] = {
    # algorithms
    "alg_none_unsigned": lambda: bearer(jwt.encode(claims(), None, algorithm="none", headers={"kid": KID})),
    "alg_none_with_signature": lambda: bearer(
        f"{b64json({'alg': 'none', 'kid': KID})}.{good().split('.', 1)[1]}"
    ),
    "alg_None_capitalised": lambda: bearer(
        f"{b64json({'alg': 'None', 'kid': KID})}.{b64json(claims())}.c2ln"
    ),
    "alg_missing": lambda: bearer(rs256_raw({"kid": KID, "typ": "JWT"}, b64json(claims()))),
    "alg_hs256_signed_with_public_key_pem": lambda: bearer(hs256_with_public_pem()),
    "alg_rs512_trusted_key": lambda: bearer(sign(claims(), alg="RS512")),
    "alg_ps256_trusted_key": lambda: bearer(sign(claims(), alg="PS256")),
    "alg_es256_attacker_key_trusted_kid": lambda: bearer(sign(claims(), key=ATTACKER_EC, alg="ES256")),
    # keys
    "kid_unknown": lambda: bearer(sign(claims(), kid="rotated-away")),
    "kid_missing": lambda: bearer(jwt.encode(claims(), TRUSTED, algorithm="RS256")),
    "kid_not_a_string": lambda: bearer(rs256_raw({"alg": "RS256", "kid": 7}, b64json(claims()))),
    "kid_absurdly_long": lambda: bearer(sign(claims(), kid="k" * 300)),
    "kid_trusted_signed_by_another_key": lambda: bearer(sign(claims(), key=ATTACKER)),
    "jku_points_at_attacker_jwks": lambda: bearer(
        sign(claims(), key=ATTACKER, kid="evil", jku="https://evil.example/jwks.json")
    ),
    "jku_with_trusted_kid": lambda: bearer(
        sign(claims(), key=ATTACKER, jku="https://evil.example/jwks.json")
    ),
    "x5u_points_at_attacker_cert": lambda: bearer(
        sign(claims(), key=ATTACKER, x5u="https://evil.example/cert.pem")
    ),
    "jwk_embeds_attacker_key": lambda: bearer(sign(claims(), key=ATTACKER, jwk=attacker_jwk())),
    "x5c_embeds_attacker_chain": lambda: bearer(
        sign(claims(), key=ATTACKER, x5c=["MIIBIjANBgkqhkiG9w0BAQEF"])
    ),
    "crit_extension_we_do_not_know": lambda: bearer(
        rs256_raw({"alg": "RS256", "kid": KID, "crit": ["exp"], "exp": 1}, b64json(claims()))
    ),
    # registered claims
    "iss_wrong": lambda: bearer(sign(claims(iss="https://evil.example/"))),
    "iss_missing": lambda: bearer(sign(claims(iss=_DROP))),
    "iss_not_a_string": lambda: bearer(
        rs256_raw({"alg": "RS256", "kid": KID}, b64json(claims(iss=[ISSUER])))
    ),
    "aud_wrong": lambda: bearer(sign(claims(aud="another-api"))),
    "aud_list_without_ours": lambda: bearer(sign(claims(aud=["another-api", "userinfo"]))),
    "aud_missing": lambda: bearer(sign(claims(aud=_DROP))),
    "exp_passed": lambda: bearer(sign(claims(exp=NOW - 3600, iat=NOW - 7200))),
    "exp_just_beyond_leeway": lambda: bearer(sign(claims(exp=int(time.time()) - 31))),
    "exp_missing": lambda: bearer(sign(claims(exp=_DROP))),
    "exp_not_a_number": lambda: bearer(sign(claims(exp="tomorrow"))),
    "nbf_in_future": lambda: bearer(sign(claims(nbf=NOW + 3600))),
    "iat_far_in_future": lambda: bearer(sign(claims(iat=NOW + 86_400, exp=NOW + 90_000))),
    "iat_missing": lambda: bearer(sign(claims(iat=_DROP))),
    "sub_missing": lambda: bearer(sign(claims(sub=_DROP))),
    "sub_empty": lambda: bearer(sign(claims(sub=""))),
    "sub_not_a_string": lambda: bearer(sign(claims(sub=12345))),
    # stackpilot claims
    "org_id_without_prefix": lambda: bearer(sign(claims(org_id="acme"))),
    "org_id_prefix_only": lambda: bearer(sign(claims(org_id="org_"))),
    "org_id_path_traversal": lambda: bearer(sign(claims(org_id="org_a/../b"))),
    "org_id_too_long": lambda: bearer(sign(claims(org_id="org_" + "a" * 65))),
    "org_id_uppercase_prefix": lambda: bearer(sign(claims(org_id="ORG_acme"))),
    "org_id_not_a_string": lambda: bearer(sign(claims(org_id=42))),
    "org_id_trailing_newline": lambda: bearer(sign(claims(org_id="org_acme\n"))),
    # tampering and shape
    "payload_tampered_after_signing": lambda: bearer(swap_payload(good(), claims(org_id="org_victim"))),
    "signature_truncated": lambda: bearer(good()[:-6]),
    "signature_empty": lambda: bearer(good().rsplit(".", 1)[0] + "."),
    "signature_from_another_token": lambda: bearer(
        good().rsplit(".", 1)[0] + "." + sign(claims(sub="other")).rsplit(".", 1)[1]
    ),
    "two_segments": lambda: bearer(".".join(good().split(".")[:2])),
    "four_segments": lambda: bearer(good() + ".c2ln"),
    "five_segments_jwe_shape": lambda: bearer("eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d"),
    "empty_string_token": lambda: {"Authorization": ""},
    "garbage": lambda: bearer("garbage"),
    "not_base64url": lambda: bearer("ey$%^.eyJ!!.c2ln~"),
    "standard_base64_padding": lambda: bearer(good() + "=="),
    "whitespace_inside_token": lambda: bearer(good().replace(".", ". ", 1)),
    "null_byte_inside_token": lambda: bearer(good()[:20] + "\x00" + good()[20:]),
    "null_byte_after_token": lambda: bearer(good() + "\x00"),
    "non_ascii_in_token": lambda: bearer(good()[:-3] + "é" + good()[-2:]),
    "header_json_not_an_object": lambda: bearer(rs256_raw(["RS256", KID], b64json(claims()))),
    "header_not_json": lambda: bearer(f"{b64(b'{alg: RS256')}.{b64json(claims())}.c2ln"),
    "header_deeply_nested": lambda: bearer(f"{b64(b'[' * 3000 + b']' * 3000)}.{b64json(claims())}.c2ln"),
    "payload_json_array": lambda: bearer(rs256_raw({"alg": "RS256", "kid": KID}, b64json([claims()]))),
    "payload_not_json": lambda: bearer(rs256_raw({"alg": "RS256", "kid": KID}, b64(b"not json"))),
    "huge_token_over_16kb": lambda: bearer(sign(claims(padding="x" * 17_000))),
    # the Authorization header itself
    "bearer_without_token": lambda: {"Authorization": "Bearer"},
    "bearer_with_trailing_space_only": lambda: {"Authorization": "Bearer "},
    "basic_credentials": lambda: {"Authorization": "Basic dXNlcjpwYXNzd29yZA=="},
    "token_without_scheme": lambda: {"Authorization": good()},
    "bearer_twice": lambda: {"Authorization": f"Bearer Bearer {good()}"},
    "no_authorization_header": lambda: {"Accept": "application/json"},
    "token_in_another_header": lambda: {"X-Auth-Token": f"Bearer {good()}"},
    "two_authorization_headers": lambda: {
        "multiValueHeaders": {"Authorization": [f"Bearer {good()}", "Bearer x"]}
    },
}

GOOD: dict[str, Callable[[], dict[str, Any]]] = {
    "minimal_valid": lambda: bearer(good()),
    "scheme_lowercase": lambda: {"Authorization": f"bearer {good()}"},
    "header_name_lowercase_http2": lambda: {"authorization": f"Bearer {good()}"},
    "multi_value_headers_only": lambda: {"multiValueHeaders": {"Authorization": [f"Bearer {good()}"]}},
    "aud_list_including_ours": lambda: bearer(sign(claims(aud=["userinfo", AUDIENCE]))),
    "nbf_in_past": lambda: bearer(sign(claims(nbf=NOW - 60))),
    "extra_claims_ignored": lambda: bearer(sign(claims(scope="openid", email="a@example.com"))),
    "typ_at_jwt": lambda: bearer(sign(claims(), typ="at+jwt")),
    "x5t_thumbprint_is_not_a_key": lambda: bearer(sign(claims(), x5t="dGh1bWJwcmludA")),
    "org_id_longest_allowed": lambda: bearer(sign(claims(org_id="org_" + "A-_9" * 16))),
}


def event_for(spec: dict[str, Any]) -> dict[str, Any]:
    multi = spec.pop("multiValueHeaders", None)
    headers = dict(spec)
    if multi is None:
        multi = {k: [v] for k, v in headers.items()}
    else:
        headers = {k: vs[-1] for k, vs in multi.items()}
    return {
        "type": "REQUEST",
        "methodArn": METHOD_ARN,
        "resource": "/accounts",
        "path": "/accounts",
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": multi,
    }


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemoryKeys]:
    # The composition root's adapter swapped for the in-memory key set: no sockets in unit tests.
    keys = InMemoryKeys()
    verifier = TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE, leeway_seconds=10)
    store = InMemoryTenancy()
    now = datetime.now(UTC)
    for org in ("org_acme", "org_" + "A-_9" * 16):  # the orgs the good tokens name
        store.members[(org, "user-42")] = Member(
            org_id=org, user_id="user-42", role=Role.ADMIN, added_by="test", added_at=now, updated_at=now
        )
    deps = AuthorizerDeps(
        verifier=verifier, keys=store, pepper=StaticPepper(), audit=store.audit, clock=FakeClock()
    )
    monkeypatch.setattr(authorizer_handler, "_deps", lambda: deps)
    yield keys


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_token_is_refused_with_unauthorized_only(
    case: str, keys: InMemoryKeys, capfd: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a request carrying a bad credential
    event = event_for(BAD[case]())

    # WHEN the authorizer runs
    with pytest.raises(Exception) as refused:
        authorizer_handler.lambda_handler(event, LambdaContext())

    # THEN API Gateway sees its 401 contract and nothing else
    assert type(refused.value) is Exception
    assert refused.value.args == ("Unauthorized",)
    assert refused.value.__cause__ is None and refused.value.__suppress_context__
    # AND nothing the caller sent reaches the logs
    logged = capfd.readouterr().out
    for values in event["multiValueHeaders"].values():
        for value in values:
            credential = value.rpartition(" ")[2]
            if len(credential) > 16:
                assert credential not in logged


@pytest.mark.parametrize("case", GOOD, ids=list(GOOD))
def test_good_token_is_allowed(case: str, keys: InMemoryKeys) -> None:
    answer = authorizer_handler.lambda_handler(event_for(GOOD[case]()), LambdaContext())

    assert answer["principalId"] == "user-42"
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert answer["policyDocument"]["Statement"][0]["Resource"] == METHOD_ARN
    assert all(isinstance(v, str) for v in answer["context"].values())
    assert answer["context"]["org_id"].startswith("org_")


def test_the_corpus_is_large_enough() -> None:
    assert len(BAD) >= 30


def test_a_huge_token_is_refused_before_any_parsing(
    keys: InMemoryKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a correctly signed token well over 16 KB, and a JWT library that counts what it parses
    event = event_for(bearer(sign(claims(padding="x" * 2_000_000))))
    parsed: list[str] = []
    for name in ("decode", "get_unverified_header"):
        real = getattr(jwt, name)
        monkeypatch.setattr(jwt, name, lambda *a, _n=name, _f=real, **k: parsed.append(_n) or _f(*a, **k))

    # WHEN the authorizer runs THEN it refuses without parsing the token or looking up a key
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer_handler.lambda_handler(event, LambdaContext())
    assert parsed == []
    assert keys.lookups == 0


def test_shape_garbage_never_costs_a_key_lookup(keys: InMemoryKeys) -> None:
    for case in (
        "garbage",
        "two_segments",
        "four_segments",
        "null_byte_inside_token",
        "header_json_not_an_object",
    ):
        with pytest.raises(Exception, match=r"^Unauthorized$"):
            authorizer_handler.lambda_handler(event_for(BAD[case]()), LambdaContext())
    assert keys.lookups == 0


@pytest.mark.parametrize("claimed", ["owner", "Owner", ["owner"], "superuser", None])
def test_a_role_claim_never_raises_the_looked_up_role(
    claimed: Any, keys: InMemoryKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a member who is a viewer, whose token claims something else
    deps = authorizer_handler._deps()
    deps.keys.members[("org_acme", "user-42")] = deps.keys.members[("org_acme", "user-42")].model_copy(  # type: ignore[attr-defined]
        update={"role": Role.VIEWER}
    )
    token = sign(claims(role=claimed) if claimed is not None else claims(role=_DROP))

    # WHEN they call an admin route THEN the looked-up role decides: a Deny (403), not an Allow
    answer = authorizer_handler.lambda_handler(event_for(bearer(token)), LambdaContext())
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Deny"


def test_a_token_without_an_org_may_create_one_but_nothing_else(keys: InMemoryKeys) -> None:
    token = bearer(sign(claims(org_id=_DROP)))
    denied = authorizer_handler.lambda_handler(event_for(token), LambdaContext())
    assert denied["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    event = {**event_for(token), "resource": "/orgs", "path": "/orgs"}
    allowed = authorizer_handler.lambda_handler(event, LambdaContext())
    assert allowed["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert allowed["context"] == {"user_id": "user-42", "principal_type": "user"}
