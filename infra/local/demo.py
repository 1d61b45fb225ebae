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


def example_stack(connection_id: str) -> dict[str, Any]:
    """The demo's stack: a container behind an ALB, with a database (what the stack tests start from)."""
    return {
        "connection_id": connection_id,
        "region": "us-east-1",
        "name": "shop",
        "stage": "dev",
        "container": {"image": "public.ecr.aws/nginx/nginx:1.27", "port": 80, "desired_count": 2},
        "database": {},
        "front_door": "alb",
    }


def _step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def _follow(
    local: runtime.LocalStackpilot, token: str, stack_id: str, timeout: float = 120
) -> dict[str, Any]:
    """Prints each status the stack moves through until it settles."""
    seen, deadline = "", time.monotonic() + timeout
    while True:
        stack: dict[str, Any] = _call(local, token, "GET", f"/stacks/{stack_id}")[1]
        now = f"{stack['status']} ({stack['cfn_status'] or '-'})"
        if now != seen:
            print(f"  GET /stacks/{stack_id} -> {now}", flush=True)
            seen = now
        if stack["status"] not in ("CREATING", "UPDATING", "DELETING") or time.monotonic() > deadline:
            return stack
        time.sleep(0.2)


def _show_account(local: runtime.LocalStackpilot, account: str, stack: dict[str, Any]) -> None:
    _step(f"what is in account {account} now (read with that account's credentials)")
    ec2 = local.cloud.customer_client("ec2", account, "us-east-1")
    vpc = stack["outputs"].get("VpcId", "")
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    zones = sorted({s["AvailabilityZone"] for s in subnets})
    print(f"  VPC {vpc}: {len(subnets)} subnets over {len(zones)} AZs ({', '.join(zones)})")
    tiers = {"PublicSubnetIds": "public", "AppSubnetIds": "app (private)", "DatabaseSubnetIds": "isolated"}
    for key, tier in tiers.items():
        if key in stack["outputs"]:
            print(f"    {tier:14s} {stack['outputs'][key]}")
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"]
    names = {g["GroupId"]: g["GroupName"][:40] for g in groups}
    for group in sorted(groups, key=lambda g: g["GroupName"]):
        for rule in group["IpPermissions"]:
            sources = [names.get(p["GroupId"], p["GroupId"]) for p in rule.get("UserIdGroupPairs", [])]
            sources += [r["CidrIp"] for r in rule.get("IpRanges", [])]
            print(
                f"  ingress {group['GroupName'][:40]:40s} port {rule.get('FromPort', 'all')} "
                f"from {', '.join(sources)}"
            )
    clusters = local.cloud.customer_client("ecs", account, "us-east-1").list_clusters()["clusterArns"]
    print(f"  ECS clusters: {[c.rsplit('/', 1)[-1] for c in clusters]}")
    elb = local.cloud.customer_client("elbv2", account, "us-east-1")
    for lb in elb.describe_load_balancers()["LoadBalancers"]:
        print(f"  load balancer {lb['LoadBalancerName']} ({lb['Scheme']})")
    rds = local.cloud.customer_client("rds", account, "us-east-1")
    for db in rds.describe_db_instances()["DBInstances"]:
        tiers = {s["SubnetIdentifier"] for s in db["DBSubnetGroup"]["Subnets"]}
        print(f"  database {db['DBInstanceIdentifier']} in subnets {sorted(tiers)} (no route out)")


def _stacks(local: runtime.LocalStackpilot, token: str, connection_id: str, account: str) -> None:
    _step("a contributor asks for a stack: a database behind an ALB, in the connected account")
    status, created = _call(local, token, "POST", "/stacks", example_stack(connection_id))
    print(f"POST /stacks -> {status} {created.get('status')} {created.get('stack_id')}")
    if status != 202:
        print(f"  {created}")
        return
    stack_id = created["stack_id"]
    stack = _follow(local, token, stack_id)
    for key in sorted(stack["outputs"]):
        print(f"  output {key} = {stack['outputs'][key]}")

    _show_account(local, account, stack)

    _step("preview a change (3 tasks), then make it")
    change = {"container": {"desired_count": 3}}
    status, preview = _call(local, token, "POST", f"/stacks/{stack_id}/preview", change)
    print(f"POST /stacks/{stack_id}/preview -> {status}")
    for item in preview.get("changes", []):
        what = f"{item['logical_id']} ({item['resource_type']})"
        print(f"  would {item['action']} {what}, replacement {item['replacement']}")
    status, patched = _call(local, token, "PATCH", f"/stacks/{stack_id}", change)
    print(f"PATCH /stacks/{stack_id} -> {status} {patched.get('status')}")
    stack = _follow(local, token, stack_id)
    print(f"  desired_count now {stack['spec']['container']['desired_count']}")

    _step("its history, newest first")
    for event in _call(local, token, "GET", f"/stacks/{stack_id}/events")[1]["items"][:8]:
        when, message = event["at"][11:19], event["message"][:60]
        print(f"  {when} {event['kind']:9s} {event['status']:9s} {message} ({event['actor']})")

    _step("delete it (the database's deletion protection is turned off first; RDS keeps a final snapshot)")
    status, deleting = _call(local, token, "DELETE", f"/stacks/{stack_id}")
    print(f"DELETE /stacks/{stack_id} -> {status} {deleting.get('status')}")
    _follow(local, token, stack_id)


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

        if connection.get("status") == "CONNECTED":
            _stacks(
                local, local.token("org_demo", "contributor", "cora"), connection["connection_id"], account
            )

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
