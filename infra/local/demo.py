"""`stackpilot local demo`: the journey so far, on an in-process local cloud, narrated."""

from __future__ import annotations

import json
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from infra.local import customer, runtime


def _call(
    local: runtime.LocalStackpilot, token: str, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    request = urllib.request.Request(  # noqa: S310 - the local front door on loopback
        local.api_url + path,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310
            return reply.status, json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def _step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def run(time_scale: float = 0.05, account: str = "111111111111") -> int:
    print("starting the local cloud in this process (no AWS account, no Docker)...", flush=True)
    local = runtime.start(
        in_process=True,
        api_port=0,
        time_scale=time_scale,
        state_dir=Path(tempfile.mkdtemp()),
        log_level="WARNING",  # the narration, not the functions' JSON logs
    )
    try:
        admin = local.token("org_demo", "admin", "ada")
        viewer = local.token("org_demo", "viewer", "vic")
        stranger = local.token("org_other", "owner", "mallory")
        print(f"API on {local.api_url}; tokens minted by the local OIDC issuer for org_demo and org_other")

        _step("an admin asks to connect AWS account " + account)
        status, created = _call(
            local, admin, "POST", "/accounts", {"aws_account_id": account, "region": "us-east-1"}
        )
        print(f"POST /accounts -> {status} {created['status']} {created['connection_id']}")
        print(f"quick-create URL: {created['quick_create_url'][:110]}...")

        _step("a viewer may read but not connect; another org sees nothing")
        body = {"aws_account_id": account, "region": "us-east-1"}
        print(f"viewer POST /accounts -> {_call(local, viewer, 'POST', '/accounts', body)[0]}")
        path = f"/accounts/{created['connection_id']}"
        print(f"org_other GET {path} -> {_call(local, stranger, 'GET', path)[0]}")

        _step(f"the customer deploys the link in account {account}")
        link = customer.parse_quick_create_url(created["quick_create_url"])
        cfn = local.cloud.customer_client("cloudformation", account, link.region)
        started = time.monotonic()
        result = customer.deploy(cfn, link, on_status=lambda s: print(f"  stack {s}", flush=True))
        if result.reason:
            print(f"  reason: {result.reason}")

        _step("stackpilot verified the role (ExternalId required, wrong ones refused)")
        connection: dict[str, Any] = {}
        while time.monotonic() - started < 30:
            connection = _call(local, admin, "GET", f"/accounts/{created['connection_id']}")[1]
            if connection["status"] != "PENDING":
                break
            time.sleep(0.2)
        detail = connection.get("role_arn") or connection.get("reason")
        print(f"GET {path} -> {connection['status']} {detail}")
        print(f"connected {time.monotonic() - started:.1f} s after the customer clicked 'Create stack'")
        for event in local.cloud.tap_events():
            print(f"  event on the bus: {event['source']} {event['detail-type']}")

        _step("the customer deletes the role stack: stackpilot disconnects")
        cfn.delete_stack(StackName=result.stack_id)
        print(f"  stack {customer.wait(cfn, result.stack_id, timeout_seconds=30).status}")
        time.sleep(0.3)
        print(f"GET -> {_call(local, admin, 'GET', '/accounts/' + created['connection_id'])[1]['status']}")
        for event in local.cloud.tap_events():
            print(f"  event on the bus: {event['source']} {event['detail-type']}")
        return 0 if connection.get("status") == "CONNECTED" else 1
    finally:
        local.stop()
