"""4. EventBridge: Lambda and Step Functions targets (asynchronous, as in AWS), disabled rules that
stay quiet, the full envelope (moto drops `account`), bus targets that keep the event as it was, and
`put_service_event` for events an AWS service emits (e.g. CloudFormation's status changes)."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping
from typing import Any

from infra.local.patches import backends
from infra.local.patches._machinery import _call_original, _replace, _spawn
from infra.local.patches.lambda_runtime import _lambda_function, invoke_async

LOG = logging.getLogger(__name__)

_ENVELOPE_KEYS = (
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
)


def _event_time(value: Any) -> str:
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(float(value), tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _envelope(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event exactly as AWS delivers it to a target (moto's default template drops account)."""
    envelope = {key: event.get(key) for key in _ENVELOPE_KEYS}
    envelope["version"] = envelope["version"] or "0"
    envelope["time"] = _event_time(event.get("time"))
    envelope["resources"] = envelope["resources"] or []
    return envelope


def _target_input(target: Mapping[str, Any], event: Mapping[str, Any]) -> Any:
    from moto.events.utils import EventTemplateParser

    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target:
        from jsonpath_ng.ext import parse  # type: ignore[attr-defined]

        matches = parse(target["InputPath"]).find(_envelope(event))
        return matches[0].value if matches else None
    if "InputTransformer" in target:
        transformer = target["InputTransformer"]
        return EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=dict(event),  # type: ignore[arg-type]
        )
    return _envelope(event)


def _deliver_to_lambda(function_arn: str, payload: Any) -> None:
    try:
        invoke_async(_lambda_function(function_arn), payload)
    except Exception:
        LOG.exception("EventBridge could not deliver to %s", function_arn)


def _deliver_to_state_machine(state_machine_arn: str, payload: Any) -> None:
    parts = state_machine_arn.split(":")

    def start() -> None:
        try:
            backend = backends.stepfunctions(parts[4], parts[3])
            backend.start_execution(state_machine_arn, None, json.dumps(payload))
        except Exception:
            LOG.exception("EventBridge could not start %s", state_machine_arn)

    _spawn(start, "events-to-sfn")


def _customises_input(target: Mapping[str, Any]) -> bool:
    return any(key in target for key in ("Input", "InputPath", "InputTransformer"))


def _deliver_to_queue(rule: Any, target: Mapping[str, Any], event: Mapping[str, Any]) -> None:
    """Plain SQS targets get the full envelope too (moto's default template drops `account`)."""
    envelope = _envelope(event)
    envelope["time"] = event.get("time")  # moto's SQS delivery formats the epoch time itself
    group_id = target.get("SqsParameters", {}).get("MessageGroupId")
    rule._send_to_sqs_queue(target["Arn"].split(":")[5], envelope, group_id)


def _deliver_to_bus(bus_arn: str, event: Mapping[str, Any]) -> None:
    """A bus target (another account or region) receives the event as it was: same id, account,
    region, time and resources (moto re-puts it as a new event of the target account, without
    resources). The target bus's resource policy and the target's RoleArn are not evaluated."""
    parts = bus_arn.split(":")
    try:
        region, account, bus_name = parts[3], parts[4], parts[5].split("/", 1)[1]
    except IndexError:
        LOG.warning("EventBridge: malformed event bus target %s", bus_arn)
        return
    put_service_event(event, account=account, region=region, bus_name=bus_name)


def put_service_event(
    event: Mapping[str, Any],
    *,
    account: str | None = None,
    region: str | None = None,
    bus_name: str = "default",
) -> None:
    """Deliver `event` (a full envelope, `time` in epoch seconds) to the rules of one bus, as an AWS
    service (or a bus target) does: no PutEvents validation, the envelope kept as it is. A failing
    target is logged, never raised: the emitter (e.g. a stack operation) must not fail with it."""
    backend = backends.events(account or str(event["account"]), region or str(event["region"]))
    bus = backend.event_buses.get(bus_name)
    if bus is None:
        LOG.warning("EventBridge: no event bus %s in %s/%s", bus_name, account, region)
        return
    for rule in list(bus.rules.values()):
        try:
            rule.send_to_targets(json.loads(json.dumps(dict(event))))
        except Exception:
            LOG.exception("EventBridge: rule %s could not deliver %s", rule.name, event.get("detail-type"))


def _deliver(rule: Any, target: Mapping[str, Any], event: Mapping[str, Any], transform: bool) -> bool:
    """Deliver one target ourselves; False leaves it to moto."""
    arn_parts = target["Arn"].split(":")
    service = arn_parts[2]
    if service == "sqs" and not _customises_input(target):
        _deliver_to_queue(rule, target, event)
        return True
    if service == "events" and len(arn_parts) > 5 and arn_parts[5].startswith("event-bus/"):
        _deliver_to_bus(target["Arn"], event)
        return True
    if service not in ("lambda", "states"):
        return False
    payload = _target_input(target, event) if transform else _envelope(event)
    if service == "lambda":
        _deliver_to_lambda(target["Arn"], payload)
    else:
        _deliver_to_state_machine(target["Arn"], payload)
    return True


def _rule_send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
    """Rule.send_to_targets: skip disabled rules, deliver Lambda/SFN targets asynchronously."""
    from moto.events.models import Rule

    if self.state != "ENABLED" or (self.scheduled_expression and not self.event_pattern.get_pattern()):
        return
    if not self.event_pattern.matches_event(original_event):
        return
    theirs = [t for t in self.targets if not _deliver(self, t, original_event, transform_input)]
    if theirs:
        # moto handles the rest (logs, archives, buses, API destinations) on a copy of the rule.
        shallow = Rule.__new__(Rule)
        shallow.__dict__.update(self.__dict__, targets=theirs)
        _call_original(Rule, "send_to_targets", shallow, original_event, transform_input)


def patch() -> None:
    from moto.events.models import Rule

    _replace(Rule, "send_to_targets", _rule_send_to_targets, "eventbridge lambda/sfn targets")
