"""The `stackpilot` command: run the product locally and try it as a new user would."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from botocore.exceptions import EndpointConnectionError

from infra.definitions import SCHEDULES, STATE_MACHINES, SUPPORTED_REGIONS
from infra.local import tenants
from infra.local.cloud import DEFAULT_STATE_DIR, LocalCloud

ROLES = ("owner", "admin", "contributor", "viewer")


def _serve(args: argparse.Namespace) -> int:
    from infra.local import runtime

    local = runtime.start(
        in_process=False,
        aws_port=args.aws_port,
        api_port=args.api_port,
        host=args.host,
        time_scale=args.time_scale,
        state_dir=Path(args.state_dir),
        persist=True,
        fresh=args.fresh,
    )
    names = local.cloud.names
    print(local.cloud.restore_report, flush=True)
    print("stackpilot local cloud is running", flush=True)
    print(f"  AWS endpoint     {local.cloud.endpoint_url}   (any boto3 client, dummy credentials)")
    print(f"  REST API         {local.api_url}   (Swagger UI {local.api_url}/docs, OpenAPI /openapi.json)")
    print(f"  OIDC issuer      {local.issuer.issuer_url}")
    print(f"  event bus        {names.event_bus}   (read it back: stackpilot local events)")
    print(f"  state machines   {', '.join(names.state_machine(sm.key) for sm in STATE_MACHINES)}")
    schedules = ", ".join(s.key for s in SCHEDULES)
    print(f"  schedules        {schedules}   (run one: stackpilot local run-schedule KEY)")
    print(f"  callback topics  {names.callback_topic} in {', '.join(SUPPORTED_REGIONS)}")
    print("  try it           TOKEN=$(stackpilot local token --org org_acme --role admin)   (README.md)")
    print(f"  state            {local.cloud.snapshot_dir}   (kept across restarts; --fresh starts empty)")
    print("Ctrl-C stops it.", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.is_set():
            stop.wait(0.5)
    except KeyboardInterrupt:
        pass
    print("stopping: saving the state...", flush=True)
    local.stop()
    saved = local.cloud.last_saved
    print(f"saved at {saved}" if saved else "the last snapshot could not be taken: the previous one stays")
    return 0


def _token_arguments_error(args: argparse.Namespace) -> str | None:
    """What is wrong with --org or --user, checked by the product's own id types before anything
    talks to the local cloud (a refusal there would read like an outage)."""
    from pydantic import TypeAdapter, ValidationError

    from functions.shared.models.ids import OrgId
    from functions.shared.models.principal import UserId

    for option, value, kind in (("--org", args.org, OrgId), ("--user", args.user, UserId)):
        try:
            TypeAdapter(kind).validate_python(value)
        except ValidationError as error:
            problem = error.errors()[0]["msg"]
            example = " (e.g. org_acme)" if option == "--org" else ""
            return f"error: {option} {value!r} is not valid: {problem}{example}"
    return None


def _token(args: argparse.Namespace) -> int:
    from infra.local.issuer import LocalIssuer

    if (problem := _token_arguments_error(args)) is not None:
        print(problem, file=sys.stderr)
        return 2
    issuer = LocalIssuer(Path(args.state_dir), base_url=args.api_url)
    cloud = LocalCloud(endpoint_url=args.aws_url)
    # The store below talks to the running local cloud: its endpoint and dummy credentials only.
    os.environ.update({k: v for k, v in cloud.environment().items() if k.startswith("AWS_")})
    try:
        tenants.ensure_membership(cloud.names, args.org, args.user, args.role)
    except Exception as exc:  # one line for a person at a terminal, not a traceback
        print(f"could not record the membership in the local cloud at {args.aws_url}: {exc}", file=sys.stderr)
        print("is `make run` running?", file=sys.stderr)
        return 1
    print(issuer.mint(args.org, args.user, ttl_seconds=args.ttl))
    return 0


def _customer_deploy(args: argparse.Namespace) -> int:
    from infra.local import customer
    from infra.local.cloud import customer_client

    try:
        link = customer.parse_quick_create_url(args.url)
    except customer.QuickCreateError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    cfn = customer_client("cloudformation", args.account, link.region, args.endpoint)
    print(f"deploying {link.stack_name} into account {args.account} ({link.region})", flush=True)
    result = customer.deploy(
        cfn, link, timeout_seconds=args.timeout, on_status=lambda status: print(f"  {status}", flush=True)
    )
    print(f"stack {result.status}" + (f": {result.reason}" if result.reason else ""))
    return 0 if result.status == "CREATE_COMPLETE" else 1


def _customer_update(args: argparse.Namespace) -> int:
    """Updates the onboarding stack as its customer would, with the link the API answered (asked
    for here, as an admin of ``--org``, when given ``--connection``)."""
    from infra.local import customer
    from infra.local.cloud import customer_client

    url = args.url
    if args.connection:
        answered = _ask_upgrade(args)
        if answered is None:
            return 1
        url = answered
    try:
        link = customer.parse_update_url(url)
    except customer.QuickCreateError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    cfn = customer_client("cloudformation", link.account, link.region, args.endpoint)
    print(f"updating {link.stack_id} in account {link.account} ({link.region})", flush=True)
    result = customer.update(
        cfn, link, timeout_seconds=args.timeout, on_status=lambda status: print(f"  {status}", flush=True)
    )
    print(f"stack {result.status}" + (f": {result.reason}" if result.reason else ""))
    return 0 if result.status == "UPDATE_COMPLETE" else 1


def _ask_upgrade(args: argparse.Namespace) -> str | None:
    """POST /accounts/{id}/upgrade as an admin of --org; the console link it answers, or None."""
    import urllib.error
    import urllib.request

    from infra.local.issuer import LocalIssuer

    if not args.org:
        print("error: --connection needs --org (the connection's org)", file=sys.stderr)
        return None
    cloud = LocalCloud(endpoint_url=args.endpoint)
    os.environ.update({k: v for k, v in cloud.environment().items() if k.startswith("AWS_")})
    tenants.ensure_membership(cloud.names, args.org, args.user, "admin")
    token = LocalIssuer(Path(args.state_dir), base_url=args.api_url).mint(args.org, args.user)
    request = urllib.request.Request(  # noqa: S310 - the local API's own URL
        f"{args.api_url}/accounts/{args.connection}/upgrade",
        method="POST",
        headers={"Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310
            return str(json.loads(reply.read())["console_url"])
    except urllib.error.HTTPError as refused:
        print(f"error: the API answered {refused.code}: {refused.read().decode()[:500]}", file=sys.stderr)
        return None


def _events(args: argparse.Namespace) -> int:
    from infra.local.cloud import LocalCloud

    cloud = LocalCloud(endpoint_url=args.endpoint)
    for event in cloud.tap_events(wait_seconds=0):
        print(json.dumps({k: event[k] for k in ("source", "detail-type", "detail")}))
    return 0


def _run_schedule(args: argparse.Namespace) -> int:
    from infra.local.cloud import LocalCloud

    print(json.dumps(LocalCloud(endpoint_url=args.endpoint).run_schedule(args.schedule)))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from infra.local.demo import run

    return run(time_scale=args.time_scale)


def _audit_verify(args: argparse.Namespace) -> int:
    """Verifies an export of ``GET /audit/export`` offline: exit 0 intact, 1 broken, 2 unreadable."""
    from pydantic import ValidationError

    from functions.shared.logic.audit_chain import verify_export
    from functions.shared.models.audit import AuditExport

    try:
        export = AuditExport.model_validate_json(Path(args.file).read_bytes())
    except (OSError, ValidationError) as error:
        print(f"error: {args.file} is not an audit export: {str(error).splitlines()[0]}", file=sys.stderr)
        return 2
    result = verify_export(export)
    print(f"{export.org_id}: {result.message}")
    return 0 if result.ok else 1


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="stackpilot", description=__doc__)
    groups = root.add_subparsers(dest="group", required=True)
    local = groups.add_parser("local", help="the local cloud (no AWS account needed)")
    commands = local.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the local cloud and the API (what `make run` runs)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--aws-port", type=int, default=4566)
    serve.add_argument("--api-port", type=int, default=3000)
    serve.add_argument(
        "--time-scale",
        type=float,
        default=float(os.environ.get("STACKPILOT_TIME_SCALE", "1")),
        help="scale Wait states and retry backoffs (e.g. 0.1)",
    )
    serve.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR))
    serve.add_argument(
        "--fresh", action="store_true", help="start empty (the saved state is moved aside, not deleted)"
    )
    serve.set_defaults(func=_serve)

    token = commands.add_parser("token", help="print a JWT from the local OIDC issuer")
    token.add_argument("--org", required=True, help="org id, e.g. org_acme")
    token.add_argument("--role", required=True, choices=ROLES)
    token.add_argument("--user", default="local-user")
    token.add_argument("--ttl", type=int, default=3600, help="seconds")
    token.add_argument("--api-url", default="http://127.0.0.1:3000")
    token.add_argument("--aws-url", default="http://127.0.0.1:4566", help="the local cloud's AWS endpoint")
    token.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR))
    token.set_defaults(func=_token)

    deploy = commands.add_parser("customer-deploy", help="play the customer: deploy a quick-create URL")
    deploy.add_argument("--url", required=True, help="the quick_create_url from POST /accounts")
    deploy.add_argument("--account", required=True, help="the customer's 12-digit account id")
    deploy.add_argument("--endpoint", default="http://127.0.0.1:4566")
    deploy.add_argument("--timeout", type=float, default=120)
    deploy.set_defaults(func=_customer_deploy)

    update = commands.add_parser(
        "customer-update", help="play the customer: update the onboarding stack to the latest template"
    )
    source = update.add_mutually_exclusive_group(required=True)
    source.add_argument("--url", help="the console_url from POST /accounts/{connection_id}/upgrade")
    source.add_argument("--connection", help="a connection id: ask the API for its upgrade link first")
    update.add_argument("--org", help="with --connection: the connection's org (asked as an admin)")
    update.add_argument("--user", default="local-admin", help="with --connection: who asks")
    update.add_argument("--api-url", default="http://127.0.0.1:3000")
    update.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR))
    update.add_argument("--endpoint", default="http://127.0.0.1:4566")
    update.add_argument("--timeout", type=float, default=120)
    update.set_defaults(func=_customer_update)

    events = commands.add_parser("events", help="print the events published on the bus since the last call")
    events.add_argument("--endpoint", default="http://127.0.0.1:4566")
    events.set_defaults(func=_events)

    schedule = commands.add_parser(
        "run-schedule", help="fire a scheduled job now (the emulator has no clock)"
    )
    schedule.add_argument("schedule", choices=[s.key for s in SCHEDULES])
    schedule.add_argument("--endpoint", default="http://127.0.0.1:4566")
    schedule.set_defaults(func=_run_schedule)

    demo = commands.add_parser("demo", help="the whole journey on an in-process local cloud")
    demo.add_argument("--time-scale", type=float, default=0.05)
    demo.set_defaults(func=_demo)

    audit = groups.add_parser("audit", help="the audit log, offline")
    audit_commands = audit.add_subparsers(dest="command", required=True)
    verify = audit_commands.add_parser("verify", help="verify an export of GET /audit/export")
    verify.add_argument("file", help="the JSON file GET /audit/export answered")
    verify.set_defaults(func=_audit_verify)
    return root


def main(argv: list[str] | None = None) -> int:
    args: Any = parser().parse_args(argv)
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    started = time.monotonic()
    try:
        code = int(args.func(args))
    except EndpointConnectionError as error:
        print(
            f"error: nothing answers at {error.kwargs.get('endpoint_url')}: is `make run` running?",
            file=sys.stderr,
        )
        return 1
    if args.command in ("customer-deploy", "customer-update", "demo"):
        print(f"({time.monotonic() - started:.1f} s)")
    return code


if __name__ == "__main__":
    sys.exit(main())
