"""Envelope encryption of org-scoped secrets, with an in-memory key service that enforces the context."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from functions.secrets.exceptions import KeyServiceUnavailable, SecretUndecryptable
from functions.secrets.logic.envelope import associated_data, encryption_context, open_sealed, seal
from functions.secrets.models.secret import (
    MAX_VALUE_CHARS,
    PutSecretRequest,
    SealedSecret,
    SecretList,
    SecretMetadata,
)
from tests.fakes.secrets import FakeDataKeys

ORG = "org_acme"
OTHER_ORG = "org_globex"
VALUE = "sk_live_4f9c2a7e-the-secret"

# Code-point ranges (surrogates excluded: they are not text and the models refuse them).
RANGES = [
    (0x20, 0x7E),  # printable ASCII
    (0x00, 0x1F),  # controls, NUL included
    (0x80, 0x7FF),  # two-byte UTF-8
    (0x800, 0xD7FF),  # three-byte UTF-8, below the surrogates
    (0xE000, 0xFFFF),  # above them: private use, BOM, U+FFFF
    (0x10000, 0x10FFFF),  # astral: emoji, supplementary planes, up to the last code point
]
SPECIALS = ["\u0301", "\u200d", "\u202e", "\u2028", "\ufeff", "👩\u200d💻", "\U0010ffff", '"', "\\", "\n"]


def _char(rng: random.Random) -> str:
    if rng.random() < 0.05:
        return rng.choice(SPECIALS)
    low, high = rng.choice(RANGES)
    return chr(rng.randint(low, high))


def _value(rng: random.Random, pool: list[str]) -> str:
    roll = rng.random()
    if roll < 0.004:  # at or near the limit, from a pool so 65536 characters stay cheap to draw
        length = rng.choice([MAX_VALUE_CHARS, MAX_VALUE_CHARS - 1, rng.randint(60_000, MAX_VALUE_CHARS)])
        return "".join(rng.choices(pool, k=length))[:MAX_VALUE_CHARS]
    if roll < 0.10:
        return _char(rng)[0]  # one character (the first code point of a special sequence)
    return "".join(_char(rng) for _ in range(rng.randint(1, 80)))[:MAX_VALUE_CHARS]


def _name(rng: random.Random) -> str:
    first = "abcXYZ019"
    rest = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
    return rng.choice(first) + "".join(rng.choices(rest, k=rng.randint(0, 127)))


def _flip(data: bytes, bit: int) -> bytes:
    flipped = bytearray(data)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


def test_ten_thousand_random_values_round_trip_exactly() -> None:
    # GIVEN 10,000 values: random Unicode (astral included), single characters, values at the limit
    rng = random.Random(20261123)
    pool = [_char(rng) for _ in range(4096)]
    edges = ["a", "\x00", "😀", " ", "\ufeff", "\U0010ffff" * MAX_VALUE_CHARS, "z" * MAX_VALUE_CHARS]
    values = edges + [_value(rng, pool) for _ in range(10_000 - len(edges))]
    keys = FakeDataKeys()
    for i, value in enumerate(values):
        org, name, version = f"org_{rng.randrange(10**6)}", _name(rng), rng.randint(1, 10**6)
        # WHEN each is sealed and opened again
        sealed = seal(keys, org, name, version, value)
        # THEN it comes back exactly, under a fresh data key each time
        assert open_sealed(keys, sealed) == value, f"value #{i} changed in a round trip"
    assert keys.generated == keys.decrypted == 10_000
    assert len(set(keys.issued_keys)) == 10_000
    assert any(len(v) == MAX_VALUE_CHARS for v in values[len(edges) :])
    assert any(ord(c) > 0xFFFF for c in "".join(values[len(edges) : 2000]))


@pytest.mark.parametrize("enforce_context", [True, False], ids=["kms-context", "aes-gcm-aad-alone"])
@pytest.mark.parametrize(
    "moved_to",
    [{"org_id": OTHER_ORG}, {"name": "db.other-password"}, {"version": 3}],
    ids=["other-org", "other-name", "other-version"],
)
def test_a_sealed_secret_moved_to_another_org_name_or_version_never_opens(
    enforce_context: bool, moved_to: dict[str, object]
) -> None:
    # GIVEN a secret of one org, name and version (and, in one case, a key service ignoring the context)
    keys = FakeDataKeys(enforce_context=enforce_context)
    sealed = seal(keys, ORG, "db.password", 2, VALUE)
    # WHEN its stored blobs are moved onto another org, name or version
    moved = sealed.model_copy(update=moved_to)
    # THEN it does not decrypt there: each binding on its own is enough
    with pytest.raises(SecretUndecryptable) as raised:
        open_sealed(keys, moved)
    assert VALUE not in str(raised.value)
    assert open_sealed(keys, sealed) == VALUE


@pytest.mark.parametrize(
    "swapped", [("ciphertext",), ("ciphertext", "nonce"), ("encrypted_data_key",)], ids=lambda s: "+".join(s)
)
def test_blobs_swapped_between_records_with_the_same_context_never_open(swapped: tuple[str, ...]) -> None:
    # GIVEN two writes under the same org, name and version
    keys = FakeDataKeys()
    first = seal(keys, ORG, "api-token", 1, VALUE)
    second = seal(keys, ORG, "api-token", 1, "another value")
    # WHEN part of one record is swapped into the other
    mixed = first.model_copy(update={field: getattr(second, field) for field in swapped})
    # THEN it fails: each record's blobs only open under that record's data key
    with pytest.raises(SecretUndecryptable):
        open_sealed(keys, mixed)


@pytest.mark.parametrize("field", ["ciphertext", "nonce", "encrypted_data_key"])
def test_a_flipped_bit_anywhere_is_detected(field: str) -> None:
    # GIVEN a sealed secret
    keys = FakeDataKeys()
    sealed = seal(keys, ORG, "webhook.github", 1, VALUE)
    blob: bytes = getattr(sealed, field)
    rng = random.Random(field)
    for bit in [0, len(blob) * 8 - 1, *rng.sample(range(len(blob) * 8), 20)]:
        # WHEN a single bit of it flips
        tampered = sealed.model_copy(update={field: _flip(blob, bit)})
        # THEN it never decrypts (to the old value or any other)
        with pytest.raises(SecretUndecryptable):
            open_sealed(keys, tampered)


def test_a_record_naming_another_wrapping_key_does_not_open() -> None:
    keys = FakeDataKeys()
    sealed = seal(keys, ORG, "token", 1, VALUE)
    with pytest.raises(SecretUndecryptable):
        open_sealed(keys, sealed.model_copy(update={"key_id": sealed.key_id + "-other"}))


def test_every_seal_uses_a_fresh_nonce_and_data_key() -> None:
    # GIVEN the same value written 200 times under the same context
    keys = FakeDataKeys()
    sealed = [seal(keys, ORG, "token", 1, VALUE) for _ in range(200)]
    # THEN each write asked for its own data key and drew its own nonce
    assert keys.generated == 200
    assert len(set(keys.issued_keys)) == 200
    assert len({s.nonce for s in sealed}) == 200
    assert len({s.encrypted_data_key for s in sealed}) == len({s.ciphertext for s in sealed}) == 200
    assert all(len(s.nonce) == 12 and s.algorithm == "AES-256-GCM" for s in sealed)


def test_the_value_never_shows_in_reprs_dumps_or_errors() -> None:
    # GIVEN a request, a sealed secret and the failures around them
    request = PutSecretRequest.model_validate({"value": VALUE, "description": "Stripe key"})
    keys = FakeDataKeys()
    sealed = seal(keys, ORG, "stripe", 1, request.value.get_secret_value())
    texts = [repr(request), str(request), request.model_dump_json(), str(request.model_dump())]
    texts += [repr(sealed), str(sealed)]
    with pytest.raises(SecretUndecryptable) as undecryptable:
        open_sealed(keys, sealed.model_copy(update={"org_id": OTHER_ORG}))
    texts.append(str(undecryptable.value))
    with pytest.raises(ValidationError) as too_long:
        PutSecretRequest.model_validate({"value": VALUE * 3000})
    texts.append(str(too_long.value))
    with pytest.raises(ValidationError) as bad_description:
        PutSecretRequest.model_validate({"value": VALUE, "description": "x" * 257})
    texts.append(str(bad_description.value))
    with pytest.raises(ValueError, match="lone surrogates") as unencodable:
        seal(keys, ORG, "stripe", 1, VALUE + "\ud800")
    texts.append(str(unencodable.value))
    # THEN none of them contains the value (nor the data key, which the fake remembers)
    for text in texts:
        assert VALUE not in text
        assert all(key.hex() not in text and repr(key) not in text for key in keys.issued_keys)
    assert "**********" in repr(request)
    assert too_long.value.errors(include_input=False)[0]["loc"] == ("value",)


@pytest.mark.parametrize(
    "body",
    [
        {"value": ""},
        {"value": "x" * (MAX_VALUE_CHARS + 1)},
        {"value": "a\udc00b"},
        {"value": "ok", "extra": 1},
        {"value": "ok", "description": "d" * 257},
    ],
    ids=["empty", "too-long", "lone-surrogate", "unknown-field", "long-description"],
)
def test_invalid_put_requests_are_refused(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        PutSecretRequest.model_validate(body)


def test_values_at_the_bounds_are_accepted() -> None:
    for value in ["x", "😀" * MAX_VALUE_CHARS]:
        assert PutSecretRequest.model_validate({"value": value}).value.get_secret_value() == value


@pytest.mark.parametrize("name", ["", "-leading-dash", ".env", "a" * 129, "has space", "org:colon", "é"])
def test_invalid_names_are_refused_before_any_key_is_made(name: str) -> None:
    keys = FakeDataKeys()
    with pytest.raises(ValidationError):
        seal(keys, ORG, name, 1, VALUE)
    assert keys.generated == 0


def test_a_list_of_secrets_carries_metadata_only() -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    item = SecretMetadata(
        name="db.password", version=2, created_at=now, updated_at=now, updated_by="user_1", description=None
    )
    assert set(SecretList(items=[item]).model_dump()["items"][0]) == {
        "name",
        "version",
        "description",
        "created_at",
        "updated_at",
        "updated_by",
    }


def test_the_context_format_is_stable() -> None:
    # Stored secrets depend on it: changing it makes every existing secret undecryptable.
    context = encryption_context("org_acme", "db.password", 7)
    assert context == {
        "stackpilot:org_id": "org_acme",
        "stackpilot:secret_name": "db.password",
        "stackpilot:version": "7",
    }
    assert associated_data(context) == (
        b'{"stackpilot:org_id":"org_acme","stackpilot:secret_name":"db.password","stackpilot:version":"7"}'
    )


def test_contexts_that_concatenate_alike_still_differ() -> None:
    # Naive concatenation would encode these two the same; the canonical encoding does not.
    a = {"stackpilot:org_id": "org_a", "stackpilot:secret_name": "bc", "stackpilot:version": "1"}
    b = {"stackpilot:org_id": "org_ab", "stackpilot:secret_name": "c", "stackpilot:version": "1"}
    assert associated_data(a) != associated_data(b)
    assert associated_data(dict(reversed(a.items()))) == associated_data(a)


def test_a_key_service_outage_surfaces_as_unavailable_and_stores_nothing() -> None:
    keys = FakeDataKeys(unavailable=True)
    with pytest.raises(KeyServiceUnavailable):
        seal(keys, ORG, "token", 1, VALUE)


def test_a_sealed_record_refuses_a_malformed_nonce() -> None:
    keys = FakeDataKeys()
    fields = seal(keys, ORG, "token", 1, VALUE).model_dump()
    with pytest.raises(ValidationError):
        SealedSecret.model_validate({**fields, "nonce": b"short"})
