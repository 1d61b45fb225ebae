"""The public event contract: every sample validates, every model has a sample, schemas match models."""

from __future__ import annotations

import json

import pytest

from functions.accounts.models.callback import CustomResourceRequest
from infra.event_schemas import EVENT_MODELS, render, schema_path
from tests.events import EVENTS_DIR, load_event

BY_TYPE = {(m.SOURCE, m.DETAIL_TYPE): m for m in EVENT_MODELS}
EVENTBRIDGE_SAMPLES = sorted(p.name for p in (EVENTS_DIR / "eventbridge").glob("stackpilot.*.json"))


@pytest.mark.parametrize("name", EVENTBRIDGE_SAMPLES)
def test_every_eventbridge_sample_validates_against_its_model(name: str) -> None:
    event = load_event(f"eventbridge/{name}")
    model = BY_TYPE[(event["source"], event["detail-type"])]
    model.model_validate(event["detail"])
    assert event["detail"]["schema_version"] and event["detail"]["org_id"] and event["detail"]["occurred_at"]


@pytest.mark.parametrize("model", EVENT_MODELS, ids=lambda m: m.DETAIL_TYPE)
def test_every_event_model_has_a_sample_and_a_current_schema(model: type) -> None:
    assert f"{model.SOURCE}.{model.DETAIL_TYPE}.json" in EVENTBRIDGE_SAMPLES
    path = schema_path(model)
    assert path.exists(), f"run `python -m infra.event_schemas` to generate {path.name}"
    assert path.read_text() == render(model), f"{path.name} drifted: run `python -m infra.event_schemas`"


def test_no_stray_schema_files() -> None:
    expected = {schema_path(m).name for m in EVENT_MODELS}
    assert {p.name for p in (EVENTS_DIR / "schemas").glob("*.json")} == expected


@pytest.mark.parametrize("name", ["sns/custom_resource_create.json", "sns/custom_resource_delete.json"])
def test_custom_resource_samples_parse(name: str) -> None:
    record = load_event(name)["Records"][0]["Sns"]
    request = CustomResourceRequest.model_validate(json.loads(record["Message"]))
    assert request.ResourceProperties.ConnectionId.startswith("conn_")


def test_the_api_gateway_sample_is_a_proxy_event_the_accounts_api_understands() -> None:
    from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventModel

    from functions.accounts.models.api import ConnectAccountRequest
    from functions.shared.models.principal import Principal

    event = load_event("apigw/post_accounts.json")
    parsed = APIGatewayProxyEventModel.model_validate(event)
    assert ConnectAccountRequest.model_validate_json(parsed.body or "")
    assert Principal.from_authorizer_context(event["requestContext"]["authorizer"]).org_id == "org_acme"
