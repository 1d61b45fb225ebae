"""The install flow's signed state (functions/releases/integrations/install_states.py): it reads back
only as issued, under our key, for our audience, before it expires."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from functions.releases.exceptions import ServiceUnavailable
from functions.releases.integrations.install_states import AUDIENCE, JwtInstallStates
from functions.releases.models.linking import InstallIntent
from tests.fakes.releases import FixedSecret

KEY = b"k" * 32
NOW = datetime(2026, 12, 8, 2, 0, tzinfo=UTC)
INTENT = InstallIntent(
    org_id="org_acme", user_id="alice", nonce="n" * 32, expires_at=NOW + timedelta(minutes=10)
)


def test_a_state_reads_back_as_issued_until_it_expires() -> None:
    states = JwtInstallStates(FixedSecret(KEY))
    state = states.issue(INTENT)
    assert states.read(state, NOW + timedelta(minutes=9, seconds=59)) == INTENT
    assert states.read(state, NOW + timedelta(minutes=10)) is None


def _tampered(state: str) -> str:
    header, payload, signature = state.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["org"] = "org_rival"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


@pytest.mark.parametrize(
    "forge",
    [
        _tampered,  # another org in the claims, the signature kept
        lambda _: JwtInstallStates(FixedSecret(b"o" * 32)).issue(INTENT),  # another key
        lambda _: jwt.encode(
            {"aud": AUDIENCE, "org": "org_acme", "sub": "a", "nonce": "n" * 32, "exp": 2**31},
            None,
            algorithm="none",
        ),
        lambda _: jwt.encode(
            {"aud": "stackpilot-api", "org": "org_acme", "sub": "a", "nonce": "n" * 32, "exp": 2**31},
            KEY,
            algorithm="HS256",
        ),
        lambda _: jwt.encode(
            {"aud": AUDIENCE, "org": "acme", "sub": "a", "nonce": "n" * 32, "exp": 2**31},
            KEY,
            algorithm="HS256",
        ),
        lambda _: "not-a-jwt",
        lambda _: "",
    ],
)
def test_a_forged_altered_foreign_or_malformed_state_reads_as_none(forge: object) -> None:
    states = JwtInstallStates(FixedSecret(KEY))
    assert states.read(forge(states.issue(INTENT)), NOW) is None  # type: ignore[operator]


def test_without_a_signing_key_nothing_is_issued_or_trusted() -> None:
    with pytest.raises(ServiceUnavailable):
        JwtInstallStates(FixedSecret(b"short")).issue(INTENT)
