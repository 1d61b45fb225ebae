"""Playing the customer: deploy a quick-create link into an account of the local cloud, or update the
onboarding stack with the link ``POST /accounts/{id}/upgrade`` answered."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

TERMINAL_SUFFIXES = ("_COMPLETE", "_FAILED")


@dataclass(frozen=True)
class QuickCreate:
    region: str
    template_url: str
    stack_name: str
    parameters: dict[str, str]


@dataclass(frozen=True)
class DeployResult:
    stack_id: str
    status: str
    reason: str


@dataclass(frozen=True)
class StackUpdate:
    """The console's "update stack, replace the template" link: which stack, with what template."""

    region: str
    stack_id: str
    template_url: str

    @property
    def account(self) -> str:
        return self.stack_id.split(":")[4]


class QuickCreateError(ValueError):
    pass


_STACK_ARN = re.compile(r"^arn:aws[a-z-]*:cloudformation:([a-z0-9-]+):(\d{12}):stack/[\w-]+/[\w-]+$")


def parse_quick_create_url(url: str) -> QuickCreate:
    """Reads the console's quick-create link: the query lives in the URL fragment."""
    parts = urlsplit(url)
    fragment = parts.fragment
    if "quickcreate" not in fragment or "?" not in fragment:
        raise QuickCreateError("not a CloudFormation quick-create URL")
    query = parse_qs(fragment.split("?", 1)[1], keep_blank_values=True)
    region = parse_qs(parts.query).get("region", [""])[0]
    try:
        template_url, stack_name = query["templateURL"][0], query["stackName"][0]
    except KeyError as missing:
        raise QuickCreateError(f"the quick-create URL has no {missing.args[0]}") from None
    params = {k.removeprefix("param_"): v[0] for k, v in query.items() if k.startswith("param_")}
    if not region:
        raise QuickCreateError("the quick-create URL names no region")
    return QuickCreate(region=region, template_url=template_url, stack_name=stack_name, parameters=params)


def parse_update_url(url: str) -> StackUpdate:
    """Reads the console's update link: like quick-create, the query lives in the URL fragment."""
    parts = urlsplit(url)
    if "/stacks/update/template" not in parts.fragment or "?" not in parts.fragment:
        raise QuickCreateError("not a CloudFormation update-stack URL")
    query = parse_qs(parts.fragment.split("?", 1)[1], keep_blank_values=True)
    region = parse_qs(parts.query).get("region", [""])[0]
    try:
        stack_id, template_url = query["stackId"][0], query["templateURL"][0]
    except KeyError as missing:
        raise QuickCreateError(f"the update URL has no {missing.args[0]}") from None
    arn = _STACK_ARN.match(stack_id)
    if arn is None:
        raise QuickCreateError("the update URL's stackId is not a stack ARN")
    if not region or region != arn.group(1):
        raise QuickCreateError("the update URL's region is not the stack's")
    return StackUpdate(region=region, stack_id=stack_id, template_url=template_url)


def update(
    cloudformation: Any,
    link: StackUpdate,
    *,
    timeout_seconds: float = 120,
    on_status: Callable[[str], None] = lambda status: None,
) -> DeployResult:
    """What the console does on "Update stack" with a replaced template: it shows every parameter
    with the stack's current value and submits those values, then waits for a final status."""
    stack = cloudformation.describe_stacks(StackName=link.stack_id)["Stacks"][0]
    current = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
    cloudformation.update_stack(
        StackName=link.stack_id,
        TemplateURL=link.template_url,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(current.items())],
        Capabilities=["CAPABILITY_NAMED_IAM", "CAPABILITY_IAM"],
    )
    return wait(cloudformation, link.stack_id, timeout_seconds=timeout_seconds, on_status=on_status)


def create(cloudformation: Any, link: QuickCreate, *, template_body: str | None = None) -> str:
    """What the console does on 'Create stack' (``template_body``: a customer who edited it)."""
    source = (
        {"TemplateBody": template_body} if template_body is not None else {"TemplateURL": link.template_url}
    )
    return str(
        cloudformation.create_stack(
            StackName=link.stack_name,
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(link.parameters.items())],
            Capabilities=["CAPABILITY_NAMED_IAM", "CAPABILITY_IAM"],
            **source,
        )["StackId"]
    )


def deploy(
    cloudformation: Any,
    link: QuickCreate,
    *,
    timeout_seconds: float = 120,
    on_status: Callable[[str], None] = lambda status: None,
    template_body: str | None = None,
) -> DeployResult:
    """Creates the stack, then waits for a final status."""
    stack_id = create(cloudformation, link, template_body=template_body)
    return wait(cloudformation, stack_id, timeout_seconds=timeout_seconds, on_status=on_status)


def wait(
    cloudformation: Any,
    stack_id: str,
    *,
    timeout_seconds: float = 120,
    on_status: Callable[[str], None] = lambda status: None,
) -> DeployResult:
    deadline = time.monotonic() + timeout_seconds
    last = ""
    while True:
        stack = cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]
        status = stack["StackStatus"]
        if status != last:
            on_status(status)
            last = status
        if status.endswith(TERMINAL_SUFFIXES) or time.monotonic() > deadline:
            return DeployResult(
                stack_id=stack_id, status=status, reason=_reason(cloudformation, stack_id, stack)
            )
        time.sleep(0.2)


def _reason(cloudformation: Any, stack_id: str, stack: dict[str, Any]) -> str:
    if stack.get("StackStatusReason"):
        return str(stack["StackStatusReason"])
    events = cloudformation.describe_stack_events(StackName=stack_id)["StackEvents"]
    failed = [e for e in reversed(events) if str(e.get("ResourceStatus", "")).endswith("FAILED")]
    return str(failed[0].get("ResourceStatusReason", "")) if failed else ""
