"""The local cloud keeps its state across restarts (infra/local/persistence/, recovery.py): what a
user made through the API, the customer accounts' resources, and the work in flight when it stopped.

Every local cloud here persists into a pytest tmp_path, never the developer's .stackpilot/.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.local import patches, persistence, recovery, runtime
from infra.local.cloud import DEFAULT_STATE_DIR
from tests.workflows.client import Api
from tests.workflows.onboarding import deploy
from tests.workflows.stack_support import connected_account, spec, wait_settled

# Its own group: under `make test` (-n 2 --dist loadgroup) it runs beside the other local clouds.
pytestmark = pytest.mark.xdist_group("local-cloud-persistence")

CUSTOMER = "111111111111"
LATE_CUSTOMER = "333333333333"
SCALE = 0.05


@pytest.fixture(autouse=True)
def _never_the_developers_state() -> Iterator[None]:
    before = _snapshot_mtime(DEFAULT_STATE_DIR)
    yield
    assert _snapshot_mtime(DEFAULT_STATE_DIR) == before, "a test wrote the developer's .stackpilot/"


def _snapshot_mtime(state_dir: Path) -> float | None:
    path = state_dir / "state" / persistence.SNAPSHOT_NAME
    return path.stat().st_mtime if path.exists() else None


def start(state_dir: Path, **kwargs: Any) -> runtime.LocalStackpilot:
    return runtime.start(
        in_process=True, api_port=0, time_scale=SCALE, state_dir=state_dir, persist=True, **kwargs
    )


def as_member(local: runtime.LocalStackpilot, org_id: str, user_id: str) -> Api:
    """A caller whose membership must already exist (no seeding, unlike Api's default tokens)."""
    return Api(local, org_id=org_id, role="", credential=local.issuer.mint(org_id, user_id))


def running_execution(local: runtime.LocalStackpilot, machine_key: str) -> str:
    sfn = local.cloud.client("stepfunctions")
    arn = local.cloud.names.state_machine_arn(machine_key)
    running = sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]
    assert len(running) == 1, running
    return str(running[0]["executionArn"])


def history(local: runtime.LocalStackpilot, execution_arn: str) -> list[dict[str, Any]]:
    sfn = local.cloud.client("stepfunctions")
    return list(sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"])


#: The states that wait on a task token (lambda:invoke.waitForTaskToken) in the two workflows.
CALLBACK_WAITS = ("AwaitStatus", "AwaitCallback")


def until_waiting(local: runtime.LocalStackpilot, execution_arn: str, after: str | None = None) -> None:
    """Until the execution waits on a task token (after the event ``after``, if given): its latest
    state is a callback wait whose Lambda has returned. Any Task records TaskSubmitted, so a plain
    Task still running (StartChange, executing the change set) does not count."""
    deadline = time.monotonic() + 30
    while True:
        events = history(local, execution_arn)
        types = [e["type"] for e in events]
        if after is None or after in types:
            start = types.index(after) if after else 0
            entered = [i for i, e in enumerate(events) if i >= start and e["type"] == "TaskStateEntered"]
            if entered:
                last = entered[-1]
                name = events[last]["stateEnteredEventDetails"]["name"]
                if name in CALLBACK_WAITS and "TaskSubmitted" in types[last:]:
                    return
        assert time.monotonic() < deadline, f"{execution_arn} never waited: {types}"
        time.sleep(0.05)


def settled_execution(local: runtime.LocalStackpilot, execution_arn: str) -> dict[str, Any]:
    sfn = local.cloud.client("stepfunctions")
    deadline = time.monotonic() + 60
    while (described := sfn.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"{execution_arn} still RUNNING"
        time.sleep(0.1)
    return dict(described)


def test_everything_made_through_the_api_is_back_after_a_restart_and_in_flight_work_ends_defined(
    tmp_path: Path,
) -> None:
    # GIVEN a local cloud that keeps its state in a fresh directory
    first = start(tmp_path)
    try:
        assert first.cloud.restore_report.startswith("nothing to restore in")
        # ... an org whose admin added a member, made an API key and a secret, connected an account
        # and created a stack in it
        admin, connection_id = connected_account(first, "org_keep", CUSTOMER)
        assert admin.request("POST", "/members", {"user_id": "vera", "role": "viewer"}).status == 201
        key = admin.request("POST", "/api-keys", {"name": "CI", "role": "viewer"})
        assert key.status == 201
        assert admin.request("PUT", "/secrets/db.password", {"value": "s3cret-value"}).status in (200, 201)
        created = admin.request("POST", "/stacks", spec(connection_id, name="kept", database=None))
        assert created.status == 202, created
        stack_id = created.body["stack_id"]
        ready = wait_settled(admin, stack_id)
        assert ready["status"] == "READY", ready
        events_before = admin.request("GET", f"/stacks/{stack_id}/events").body["items"]
        chain_before = admin.request("GET", "/audit/verify").body
        # ... and, in flight when it stops: an onboarding waiting for the customer, and a stack whose
        # CloudFormation creation is still running
        pending = admin.request("POST", "/accounts", {"aws_account_id": LATE_CUSTOMER, "region": "us-east-1"})
        assert pending.status == 201
        onboarding_arn = first.cloud.names.execution_arn("connect-account", pending.body["connection_id"])
        until_waiting(first, onboarding_arn)
        patches.delay_next_stack_creation("stackpilot-inflight", 3600)
        interrupted = admin.request("POST", "/stacks", spec(connection_id, name="inflight", database=None))
        assert interrupted.status == 202, interrupted
        provision_arn = running_execution(first, "provision-stack")
        until_waiting(first, provision_arn)
    finally:
        # WHEN it stops (Ctrl-C) and starts again on the same directory
        first.stop()
    second = start(tmp_path)
    try:
        # THEN it says what it restored
        report = second.cloud.restore_report
        assert ", 2 connections, 2 stacks," in report, report
        assert "1 stack operation(s) ended, 2 workflow(s) redriven" in report, report
        # AND every record reads back through the API, for members whose memberships were restored
        admin = as_member(second, "org_keep", "admin-user")
        members = {m["user_id"]: m["role"] for m in admin.request("GET", "/members").body["items"]}
        assert members["vera"] == "viewer" and members["admin-user"] == "admin"
        assert [k["name"] for k in admin.request("GET", "/api-keys").body["items"]] == ["CI"]
        by_key = Api(second, org_id="org_keep", role="", credential=key.body["key"])
        assert by_key.request("GET", "/orgs/current").status == 200  # the pepper and hash survived
        assert [s["name"] for s in admin.request("GET", "/secrets").body["items"]] == ["db.password"]
        assert admin.request("GET", f"/accounts/{connection_id}").body["status"] == "CONNECTED"
        stack = admin.request("GET", f"/stacks/{stack_id}").body
        assert (stack["status"], stack["cfn_status"]) == ("READY", "CREATE_COMPLETE")
        assert admin.request("GET", f"/stacks/{stack_id}/events").body["items"] == events_before
        # AND the audit chain verifies, and goes on from where it was
        chain = admin.request("GET", "/audit/verify").body
        assert chain["ok"] and chain["head_seq"] >= chain_before["head_seq"] + 3, chain
        assert admin.request("PUT", "/secrets/after.restart", {"value": "x"}).status in (200, 201)
        assert admin.request("GET", "/audit/verify").body["ok"]
        # AND the customer's stack is still in their account
        cfn = second.cloud.customer_client("cloudformation", CUSTOMER)
        found = cfn.describe_stacks(StackName=stack["cfn_stack_name"])["Stacks"][0]
        assert found["StackStatus"] == "CREATE_COMPLETE"

        # AND the interrupted stack creation ended with the reason, and its workflow recorded it:
        # the stack is FAILED with that reason, not CREATING forever
        described = settled_execution(second, provision_arn)
        assert described["status"] == "SUCCEEDED", described
        types = [e["type"] for e in history(second, provision_arn)]
        assert types.index("ExecutionFailed") + 1 == types.index("ExecutionRedriven"), types
        failed = next(e for e in history(second, provision_arn) if e["type"] == "ExecutionFailed")
        assert failed["executionFailedEventDetails"]["cause"] == recovery.REASON
        record = wait_settled(admin, interrupted.body["stack_id"])
        assert (record["status"], record["cfn_status"]) == ("FAILED", "CREATE_FAILED"), record
        assert recovery.REASON in json.dumps(record), record

        # AND the onboarding resumed: it waits again, and the customer's deployment connects them
        until_waiting(second, onboarding_arn, after="ExecutionRedriven")
        assert deploy(second, pending.body["quick_create_url"], LATE_CUSTOMER).status == "CREATE_COMPLETE"
        waited = admin.wait_for_status(pending.body["connection_id"], {"CONNECTED", "FAILED"})
        assert waited["status"] == "CONNECTED", waited
        assert settled_execution(second, onboarding_arn)["status"] == "SUCCEEDED"
    finally:
        second.stop()


def test_fresh_starts_empty_and_keeps_the_previous_state_aside(tmp_path: Path) -> None:
    # GIVEN a stopped local cloud that had an org
    first = start(tmp_path)
    try:
        writes = persistence.writes_seen()
        owner = Api(first, org_id="org_before", role="owner")
        assert owner.request("GET", "/orgs/current").status == 200
        assert persistence.writes_seen() > writes  # in-process requests are seen too (the stubber)
    finally:
        first.stop()
    # WHEN it starts with --fresh
    second = start(tmp_path, fresh=True)
    try:
        # THEN it says so, the org is gone, and the old snapshot was moved aside, not deleted
        assert second.cloud.restore_report.startswith("started fresh (--fresh): the previous one was moved")
        assert as_member(second, "org_before", "owner-user").request("GET", "/orgs/current").status in (
            403,
            404,
        )
        assert len(list((tmp_path / "state").glob(f"{persistence.SNAPSHOT_NAME}.previous-*"))) == 1
    finally:
        second.stop()


def test_a_snapshot_from_another_moto_is_set_aside_and_the_cloud_starts_fresh(tmp_path: Path) -> None:
    # GIVEN a snapshot an older moto wrote
    path = tmp_path / "state" / persistence.SNAPSHOT_NAME
    persistence.write_snapshot(path, b"older objects", "0" * 64, {})
    path.write_bytes(path.read_bytes().replace(b'"moto": "5.2.5"', b'"moto": "5.1.0"'))
    # WHEN the local cloud starts on it
    local = start(tmp_path)
    try:
        # THEN it says why it could not restore, keeps the file aside, and works from empty
        report = local.cloud.restore_report
        assert "could not restore" in report and "written by moto 5.1.0" in report, report
        assert report.endswith("started fresh")
        assert len(list(path.parent.glob(f"{persistence.SNAPSHOT_NAME}.unusable-*"))) == 1
        assert Api(local, org_id="org_new", role="owner").request("GET", "/orgs/current").status == 200
    finally:
        local.stop()
    assert persistence.read_snapshot(path, local.cloud.fingerprint())  # and its own snapshot is good


def test_a_killed_local_cloud_comes_back_with_its_last_complete_snapshot(tmp_path: Path) -> None:
    # GIVEN `stackpilot local serve` running in its own process
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        serve = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "infra.local.cli",
                "local",
                "serve",
                "--aws-port",
                "0",
                "--api-port",
                "0",
                "--state-dir",
                str(tmp_path),
                "--time-scale",
                str(SCALE),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _until(lambda: "REST API" in log.read_text() or serve.poll() is not None)
        lines = [line for line in log.read_text().splitlines() if not line.startswith("{")]
        assert lines[0].startswith("nothing to restore in"), lines
        api_url = next(line.split()[2] for line in lines if line.strip().startswith("REST API"))
        # ... where an owner made an org and added a member
        from infra.local.issuer import LocalIssuer

        issuer = LocalIssuer(tmp_path, base_url=api_url)
        founder = _call(api_url, "POST", "/orgs", issuer.mint("org_placeholder", "founder"), {"name": "Kept"})
        assert founder[0] == 201, founder
        org_id = founder[1]["org_id"]
        owner = issuer.mint(org_id, "founder")
        assert _call(api_url, "POST", "/members", owner, {"user_id": "vera", "role": "viewer"})[0] == 201
        # ... and the snapshot taken after those writes is on disk
        path = tmp_path / "state" / persistence.SNAPSHOT_NAME
        _until(lambda: _members_in(path) == 2)
        # WHEN the process is killed (no clean shutdown), leaving a torn temporary file behind
        serve.send_signal(signal.SIGKILL)
        serve.wait(timeout=30)
        torn = path.with_name(f".{persistence.SNAPSHOT_NAME}.999.tmp")
        torn.write_bytes(persistence.MAGIC + b'{"format": 1, "len')
    finally:
        if serve.poll() is None:
            serve.kill()
        serve.wait(timeout=30)
    # THEN the next start restores the last complete snapshot, ignoring the torn file
    local = start(tmp_path)
    try:
        report = local.cloud.restore_report
        assert report.startswith("restored") and "2 members" in report and "removed 1 incomplete" in report
        assert not torn.exists()
        members = as_member(local, org_id, "founder").request("GET", "/members").body["items"]
        assert {m["user_id"] for m in members} == {"founder", "vera"}
    finally:
        local.stop()


def _members_in(path: Path) -> int:
    """The members counted in the snapshot's header (0 while there is none)."""
    try:
        with path.open("rb") as source:
            source.read(len(persistence.MAGIC))
            return int(json.loads(source.readline())["counts"]["members"])
    except (OSError, ValueError, KeyError):
        return 0


def _until(condition: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.1)


def _call(api_url: str, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(  # noqa: S310 - loopback
        api_url + path,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310
            return reply.status, json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")
