"""Settings are read from the function's environment as pydantic-settings read them: each field from
the variable of its name in any case, converted and validated, the defaults kept otherwise."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from functions.accounts.settings import AccountsSettings
from functions.shared.settings import reset_all
from functions.stacks.settings import StacksSettings, get_settings
from functions.tenancy.settings import AuthorizerSettings

AUTHORIZER_ENV = {
    "JWT_ISSUER": "https://issuer.example",
    "JWT_AUDIENCE": "stackpilot-api",
    "JWKS_URL": "https://issuer.example/.well-known/jwks.json",
}


def test_each_field_comes_from_its_variable_converted() -> None:
    # GIVEN a function's environment, with other variables beside
    env = {"STACKS_TABLE": "t-stacks", "stack_wait_first_seconds": "7", "PATH": "/bin", "HOME": "/x"}
    # WHEN settings are read THEN the named fields are set (in any case), numbers converted
    settings = StacksSettings.from_env(env)
    assert (settings.stacks_table, settings.stack_wait_first_seconds) == ("t-stacks", 7)
    # AND the rest keep their defaults
    assert settings.stack_wait_max_seconds == 120
    assert settings.audit_table == "stackpilot-local-audit"


def test_a_list_setting_is_comma_separated() -> None:
    settings = AccountsSettings.from_env({"SUPPORTED_REGIONS": "us-east-1, eu-west-1,,"})
    assert settings.supported_regions == ("us-east-1", "eu-west-1")


def test_an_optional_setting_unset_is_none() -> None:
    assert AccountsSettings.from_env({}).response_url_endpoint_override is None


def test_a_missing_required_setting_names_the_field() -> None:
    # GIVEN an authorizer with no issuer configured WHEN it reads its settings THEN it fails closed
    env = {k: v for k, v in AUTHORIZER_ENV.items() if k != "JWT_ISSUER"}
    with pytest.raises(ValidationError) as raised:
        AuthorizerSettings.from_env(env)
    assert [(e["loc"], e["type"]) for e in raised.value.errors()] == [(("jwt_issuer",), "missing")]


def test_a_bad_value_names_the_field() -> None:
    with pytest.raises(ValidationError) as raised:
        AuthorizerSettings.from_env({**AUTHORIZER_ENV, "JWT_LEEWAY_SECONDS": "31"})
    assert [e["loc"] for e in raised.value.errors()] == [("jwt_leeway_seconds",)]
    with pytest.raises(ValidationError, match="JWKS_URL must be https"):
        AuthorizerSettings.from_env({**AUTHORIZER_ENV, "JWKS_URL": "http://issuer.example/jwks"})


def test_settings_are_frozen() -> None:
    settings = StacksSettings.from_env({})
    with pytest.raises(ValidationError):
        settings.stacks_table = "other"  # type: ignore[misc]


def test_the_process_environment_is_read_once_until_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN settings read from the process's environment
    monkeypatch.setenv("STACKS_TABLE", "first")
    reset_all()
    try:
        assert get_settings().stacks_table == "first"
        # WHEN the environment changes THEN the settings stay as read, until every domain is reset
        monkeypatch.setenv("STACKS_TABLE", "second")
        assert get_settings().stacks_table == "first"
        reset_all()
        assert get_settings().stacks_table == "second"
    finally:
        monkeypatch.undo()
        reset_all()
