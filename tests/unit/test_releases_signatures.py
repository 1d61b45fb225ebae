"""GitHub's webhook signature, checked over the raw bytes in constant time (functions/releases/logic/
signatures.py). GitHub's published test vector, each way a header can be wrong, and a property: any
change to the body, the signature or the secret is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.releases.exceptions import SignatureRefused, WebhookSecretMissing
from functions.releases.logic import signatures

# docs.github.com, "Validating webhook deliveries": the example secret, payload and signature
VECTOR_SECRET = b"It's a Secret to Everybody"
VECTOR_BODY = b"Hello, World!"
VECTOR_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_githubs_published_vector_verifies_and_is_what_sign_makes() -> None:
    # GIVEN GitHub's example WHEN it is verified THEN it passes, and our signer agrees with GitHub's
    signatures.verify(VECTOR_SECRET, VECTOR_BODY, VECTOR_SIGNATURE)
    assert signatures.sign(VECTOR_SECRET, VECTOR_BODY) == VECTOR_SIGNATURE


@pytest.mark.parametrize(
    ("header", "says"),
    [
        (None, "missing"),
        ("", "missing"),
        ("sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59", "not sha256="),  # the legacy header's format
        ("757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", "not sha256="),  # no prefix
        ("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1", "not sha256="),  # short
        ("sha256=" + "z" * 64, "not sha256="),
        ("sha256=" + "0" * 64, "does not match"),
    ],
)
def test_a_missing_malformed_sha1_or_wrong_signature_is_refused(header: str | None, says: str) -> None:
    # GIVEN the example body WHEN its header is wrong in one way THEN it is refused, saying how, and the
    # answer never shows the signature that was expected
    with pytest.raises(SignatureRefused) as refused:
        signatures.verify(VECTOR_SECRET, VECTOR_BODY, header)
    assert says in str(refused.value)
    assert VECTOR_SIGNATURE.removeprefix("sha256=") not in str(refused.value)


def test_without_a_configured_secret_nothing_is_accepted() -> None:
    # GIVEN no secret WHEN even a signature made with an empty key arrives THEN it is not accepted (503)
    with pytest.raises(WebhookSecretMissing):
        signatures.verify(b"", VECTOR_BODY, signatures.sign(b"", VECTOR_BODY))


@given(
    secret=st.binary(min_size=1, max_size=64),
    body=st.binary(max_size=512),
    change=st.sampled_from(["body", "signature", "secret"]),
    at=st.integers(min_value=0),
    bit=st.integers(min_value=0, max_value=7),
)
def test_any_change_to_body_signature_or_secret_is_refused(
    secret: bytes, body: bytes, change: str, at: int, bit: int
) -> None:
    # GIVEN a delivery signed with the secret
    signature = signatures.sign(secret, body)
    signatures.verify(secret, body, signature)
    # WHEN one bit of the body or the secret, or one hex digit of the signature, changes
    if change == "body":
        body = _flip(body, at % len(body), bit) if body else b"x"  # an empty body grows one byte
    elif change == "secret":
        secret = _flip(secret, at % len(secret), bit)
    else:
        digits = signature.removeprefix("sha256=")
        i = at % len(digits)
        other = "0123456789abcdef"[("0123456789abcdef".index(digits[i]) + 1 + bit) % 16]
        signature = "sha256=" + digits[:i] + other + digits[i + 1 :]
    # THEN it is refused
    with pytest.raises(SignatureRefused):
        signatures.verify(secret, body, signature)


def _flip(data: bytes, index: int, bit: int) -> bytes:
    changed = bytearray(data)
    changed[index] ^= 1 << bit
    return bytes(changed)
