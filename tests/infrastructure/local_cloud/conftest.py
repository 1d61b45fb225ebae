"""Fixtures of the local-cloud smoke tests: the patches installed, moto in-process (`aws`), a
customer account (`customer`), the control plane's connection topic, and moto in server mode."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from moto import mock_aws
from moto.core.config import default_user_config
from moto.server import ThreadedMotoServer

from infra.local import patches
from tests.fixtures import patch_handlers as handlers
from tests.infrastructure.local_cloud.support import (
    CUSTOMER,
    SCALE,
    SERVICE,
    bootstrap_account,
    client,
    create_function,
    free_port,
)


@pytest.fixture(scope="module", autouse=True)
def _installed() -> None:
    patches.install(time_scale=SCALE)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("MOTO_ACCOUNT_ID", raising=False)
    patches.set_time_scale(SCALE)
    handlers.reset()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        patches.register_service_account(SERVICE)
        yield
        patches.stop_executions()
    patches.clear_stack_hooks()


@pytest.fixture
def customer(aws: None) -> dict[str, str]:
    """Credentials in the customer account (reached through AssumeRole, as the control plane does)."""
    return bootstrap_account(CUSTOMER)


@pytest.fixture
def connection_topic(aws: None) -> str:
    """Service-account topic with the responder Lambda subscribed (as the real control plane)."""
    function_arn = create_function("connection-responder", "connection_responder")
    sns = client("sns")
    topic_arn = str(sns.create_topic(Name="stackpilot-connections")["TopicArn"])
    sns.subscribe(TopicArn=topic_arn, Protocol="lambda", Endpoint=function_arn)
    return topic_arn


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    port = free_port()
    monkeypatch.setenv("MOTO_PORT", str(port))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setitem(default_user_config, "stepfunctions", {"execute_state_machine": True})
    handlers.reset()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        # The server shares this process's moto backends: start from a clean slate.
        requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
        patches.register_service_account(SERVICE)
        yield endpoint
    finally:
        patches.stop_executions()
        server.stop()
