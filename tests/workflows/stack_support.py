"""What the stack workflow tests (and make bench) share: a connected customer account, a stack spec,
and waiting for a stack to settle."""

from __future__ import annotations

import time
from typing import Any

from infra.local.demo import example_stack
from infra.local.runtime import LocalStackpilot
from tests.workflows.client import Api
from tests.workflows.onboarding import deploy


def connected_account(local: LocalStackpilot, org_id: str, account: str) -> tuple[Api, str]:
    """An admin of ``org_id`` and a CONNECTED connection to ``account`` (us-east-1), made through the
    API and the customer's deployment of the quick-create link, as a user would."""
    admin = Api(local, org_id=org_id, role="admin")
    reply = admin.request("POST", "/accounts", {"aws_account_id": account, "region": "us-east-1"})
    if reply.status != 201:
        raise RuntimeError(f"POST /accounts for {account}: {reply}")
    created = reply.body
    deployed = deploy(local, created["quick_create_url"], account)
    if deployed.status != "CREATE_COMPLETE":
        raise RuntimeError(f"the onboarding stack in {account} ended {deployed.status}: {deployed.reason}")
    status = admin.wait_for_status(created["connection_id"], {"CONNECTED", "FAILED"})["status"]
    if status != "CONNECTED":
        raise RuntimeError(f"account {account} did not connect: {status}")
    return admin, str(created["connection_id"])


def spec(connection_id: str, **overrides: Any) -> dict[str, Any]:
    return {**example_stack(connection_id), **overrides}


def wait_settled(api: Api, stack_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        reply = api.request("GET", f"/stacks/{stack_id}")
        assert reply.status == 200, reply
        if reply.body["status"] not in ("CREATING", "UPDATING", "DELETING") or time.monotonic() > deadline:
            return dict(reply.body)
        time.sleep(0.1)
