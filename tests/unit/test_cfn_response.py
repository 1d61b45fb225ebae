"""The HTTPS responder: checks first, connects only to the address it checked, never follows redirects."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from functions.accounts.exceptions import ResponseDeliveryFailed
from functions.accounts.integrations.cfn_response import HttpsResponder, encode_body
from functions.accounts.logic.response_url import MAX_RESPONSE_BODY_BYTES, ResponseUrlRejected
from tests.unit.accounts_builders import RESPONSE_URL

BODY = {
    "Status": "SUCCESS",
    "Reason": "ok",
    "PhysicalResourceId": "conn_x",
    "StackId": "s",
    "RequestId": "r",
    "LogicalResourceId": "L",
    "Data": {},
}


@dataclass
class FakeConnection:
    status: int = 200
    requests: list[tuple[str, str, bytes, dict[str, str]]] = field(default_factory=list)
    closed: bool = False

    def request(self, method: str, target: str, body: bytes, headers: dict[str, str]) -> None:
        self.requests.append((method, target, body, headers))

    def getresponse(self) -> Any:
        return type("Reply", (), {"status": self.status})()

    def close(self) -> None:
        self.closed = True


def responder(
    addresses: list[str], status: int = 200
) -> tuple[HttpsResponder, list[tuple[str, str]], FakeConnection]:
    connection = FakeConnection(status=status)
    opened: list[tuple[str, str]] = []

    def connect(host: str, address: str, timeout: float) -> Any:
        opened.append((host, address))
        return connection

    return HttpsResponder(resolve=lambda host: addresses, connection=connect), opened, connection


def test_the_answer_goes_to_the_checked_address_with_the_real_host() -> None:
    sender, opened, connection = responder(["52.216.1.2"])
    sender.send(RESPONSE_URL, "us-east-1", BODY)
    assert opened == [("cloudformation-custom-resource-response-useast1.s3.amazonaws.com", "52.216.1.2")]
    method, target, body, headers = connection.requests[0]
    assert method == "PUT" and target.startswith("/arn%3Aaws") and "X-Amz-Signature=" in target
    assert json.loads(body)["Status"] == "SUCCESS" and headers["Content-Type"] == ""
    assert connection.closed


@pytest.mark.parametrize("address", ["169.254.169.254", "10.0.0.1", "127.0.0.1", "::1", "100.64.0.1"])
def test_a_host_resolving_to_a_private_address_is_never_contacted(address: str) -> None:
    sender, opened, _ = responder([address])
    with pytest.raises(ResponseUrlRejected):
        sender.send(RESPONSE_URL, "us-east-1", BODY)
    assert opened == []


@pytest.mark.parametrize("status", [301, 302, 307, 403, 500])
def test_a_redirect_or_an_error_is_a_failed_delivery_not_a_second_request(status: int) -> None:
    sender, opened, connection = responder(["52.216.1.2"], status=status)
    with pytest.raises(ResponseDeliveryFailed, match=str(status)):
        sender.send(RESPONSE_URL, "us-east-1", BODY)
    assert len(opened) == 1 and len(connection.requests) == 1


def test_an_oversized_answer_is_shrunk_under_four_kilobytes() -> None:
    body = {**BODY, "Reason": "x" * 10_000, "Data": {"Big": "y" * 10_000}}
    data = encode_body(body)
    assert len(data) <= MAX_RESPONSE_BODY_BYTES
    decoded = json.loads(data)
    assert decoded["RequestId"] == "r" and decoded["Data"] == {} and decoded["Reason"].startswith("xxx")
