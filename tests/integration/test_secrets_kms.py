"""The KMS adapter of the secrets domain, against moto's KMS (which enforces EncryptionContext) and
botocore's Stubber for the failures moto cannot produce."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from functions.secrets.exceptions import KeyServiceUnavailable, SecretUndecryptable
from functions.secrets.integrations.kms import KmsDataKeys
from functions.secrets.logic.envelope import encryption_context, open_sealed, seal
from functions.shared.integrations.aws import RETRIES

REGION = "us-east-1"
ORG = "org_acme"
VALUE = "ghp_0123456789abcdefghijklmnopqrstuvwxyz"
ALIAS = "alias/stackpilot-secrets"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Never the local cloud's endpoint nor a developer's real profile.
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KMS", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


def _client(**kwargs: Any) -> Any:
    return botocore.session.get_session().create_client("kms", region_name=REGION, **kwargs)


@pytest.fixture
def kms(aws_env: None) -> Iterator[Any]:
    with mock_aws():
        yield _client(config=RETRIES)


@pytest.fixture
def key_arn(kms: Any) -> str:
    arn = str(kms.create_key(Description="stackpilot secrets")["KeyMetadata"]["Arn"])
    kms.create_alias(AliasName=ALIAS, TargetKeyId=arn)
    return arn


@pytest.fixture
def keys(kms: Any, key_arn: str) -> KmsDataKeys:
    return KmsDataKeys(kms, ALIAS)


def _kms_code(error: BaseException) -> str:
    """The AWS error code behind a domain error: proof that KMS itself refused."""
    cause = error.__cause__
    assert isinstance(cause, ClientError)
    return str(cause.response["Error"]["Code"])


def test_values_round_trip_through_kms(keys: KmsDataKeys, key_arn: str) -> None:
    # GIVEN the adapter configured with the key's alias
    for value in [VALUE, "x", "😀\u200d" * 1000, "\U0010ffff" * 65_536]:
        # WHEN a value is sealed and opened
        sealed = seal(keys, ORG, "github.token", 4, value)
        # THEN it comes back exactly, and the record names the key by its ARN
        assert open_sealed(keys, sealed) == value
        assert sealed.key_id == key_arn
        assert len(sealed.encrypted_data_key) > 32


def test_moto_binds_the_encryption_context_as_kms_does(kms: Any, key_arn: str) -> None:
    # The assumption every swap test below rests on: if moto stops enforcing it, this fails first.
    made = kms.generate_data_key(KeyId=key_arn, KeySpec="AES_256", EncryptionContext={"k": "a"})
    assert (
        kms.decrypt(CiphertextBlob=made["CiphertextBlob"], EncryptionContext={"k": "a"})["Plaintext"]
        == (made["Plaintext"])
    )
    for context in [{"k": "b"}, {}, {"k": "a", "extra": "x"}]:
        with pytest.raises(ClientError) as refused:
            kms.decrypt(CiphertextBlob=made["CiphertextBlob"], EncryptionContext=context)
        assert refused.value.response["Error"]["Code"] == "InvalidCiphertextException"


@pytest.mark.parametrize(
    "moved_to",
    [{"org_id": "org_globex"}, {"name": "github.other"}, {"version": 5}],
    ids=["other-org", "other-name", "other-version"],
)
def test_kms_refuses_the_data_key_of_a_secret_moved_elsewhere(
    keys: KmsDataKeys, moved_to: dict[str, Any]
) -> None:
    # GIVEN a secret sealed under real KMS for one org, name and version
    sealed = seal(keys, ORG, "github.token", 4, VALUE)
    moved = sealed.model_copy(update=moved_to)
    # WHEN its data key is asked for under the moved record's context (the AES-GCM check never runs)
    with pytest.raises(SecretUndecryptable) as at_kms:
        keys.decrypt(
            sealed.encrypted_data_key,
            encryption_context(moved.org_id, moved.name, moved.version),
            moved.key_id,
        )
    # THEN KMS itself refuses it
    assert _kms_code(at_kms.value) == "InvalidCiphertextException"
    # AND opening the moved record fails the same way, before any AES-GCM decryption
    with pytest.raises(SecretUndecryptable) as opened:
        open_sealed(keys, moved)
    assert _kms_code(opened.value) == "InvalidCiphertextException"
    assert VALUE not in str(opened.value)


def test_a_tampered_data_key_is_refused_by_kms(keys: KmsDataKeys) -> None:
    sealed = seal(keys, ORG, "github.token", 1, VALUE)
    blob = bytearray(sealed.encrypted_data_key)
    blob[-1] ^= 0x01
    with pytest.raises(SecretUndecryptable):
        open_sealed(keys, sealed.model_copy(update={"encrypted_data_key": bytes(blob)}))


# --- failures moto cannot produce: Stubber answers as KMS would.


@pytest.fixture
def stubbed(aws_env: None) -> Iterator[tuple[KmsDataKeys, Stubber]]:
    client = _client(config=RETRIES)
    with Stubber(client) as stubber:
        yield KmsDataKeys(client, ALIAS), stubber
        stubber.assert_no_pending_responses()


CONTEXT = encryption_context(ORG, "github.token", 1)


def test_the_adapter_sends_the_key_spec_context_and_pinned_key(stubbed: tuple[KmsDataKeys, Stubber]) -> None:
    keys, stubber = stubbed
    arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    stubber.add_response(
        "generate_data_key",
        {"Plaintext": b"k" * 32, "CiphertextBlob": b"wrapped", "KeyId": arn},
        {"KeyId": ALIAS, "KeySpec": "AES_256", "EncryptionContext": CONTEXT},
    )
    stubber.add_response(
        "decrypt",
        {"Plaintext": b"k" * 32, "KeyId": arn},
        {"CiphertextBlob": b"wrapped", "EncryptionContext": CONTEXT, "KeyId": arn},
    )
    assert keys.generate(CONTEXT) == (b"k" * 32, b"wrapped", arn)
    assert keys.decrypt(b"wrapped", CONTEXT, arn) == b"k" * 32


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ThrottlingException", 400),
        ("KMSInternalException", 500),
        ("DependencyTimeoutException", 503),
        ("KeyUnavailableException", 500),
        ("DisabledException", 400),
        ("SomethingNew", 502),
    ],
)
@pytest.mark.parametrize("operation", ["generate_data_key", "decrypt"])
def test_kms_outages_surface_as_key_service_unavailable(
    stubbed: tuple[KmsDataKeys, Stubber], operation: str, code: str, status: int
) -> None:
    # GIVEN KMS answers with a throttle, a 5xx or an unusable key
    keys, stubber = stubbed
    stubber.add_client_error(operation, service_error_code=code, http_status_code=status)
    # WHEN the adapter calls it THEN the caller gets a KeyServiceUnavailable naming the code
    with pytest.raises(KeyServiceUnavailable) as raised:
        if operation == "generate_data_key":
            keys.generate(CONTEXT)
        else:
            keys.decrypt(b"wrapped", CONTEXT, "arn:aws:kms:us-east-1:123456789012:key/x")
    assert raised.value.code == code


def test_a_record_pointing_at_another_key_is_undecryptable(stubbed: tuple[KmsDataKeys, Stubber]) -> None:
    keys, stubber = stubbed
    stubber.add_client_error("decrypt", service_error_code="IncorrectKeyException", http_status_code=400)
    with pytest.raises(SecretUndecryptable):
        keys.decrypt(b"wrapped", CONTEXT, "arn:aws:kms:us-east-1:123456789012:key/other")


def test_our_own_bugs_are_not_disguised(stubbed: tuple[KmsDataKeys, Stubber]) -> None:
    keys, stubber = stubbed
    stubber.add_client_error(
        "generate_data_key", service_error_code="ValidationException", http_status_code=400
    )
    with pytest.raises(ClientError):
        keys.generate(CONTEXT)


def test_an_unreachable_kms_is_unavailable(aws_env: None) -> None:
    # GIVEN KMS at an address where nothing listens (connection refused at once)
    client = _client(
        endpoint_url="http://127.0.0.1:9", config=Config(retries={"max_attempts": 1}, connect_timeout=2)
    )
    # WHEN a data key is asked for THEN the connection error becomes KeyServiceUnavailable
    with pytest.raises(KeyServiceUnavailable) as raised:
        KmsDataKeys(client, ALIAS).generate(CONTEXT)
    assert raised.value.code == "EndpointConnectionError"
