"""CloudFormation custom resources answered through S3, as in AWS: the request goes to the
ServiceToken (an SNS topic or a Lambda function) with a ResponseURL shaped like CloudFormation's
pre-signed S3 PUT URL; the responder's PUT lands in the emulator's S3 (service account), where the
operation waits for it up to ServiceTimeout (scaled)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from infra.local.patches import backends
from infra.local.patches._machinery import _Aborted, _replace, _require_version, _scale, _state, _tls
from infra.local.patches.cloudformation._common import _ResourceFailed, _stack_for
from infra.local.patches.cloudformation.status_events import _add_resource_event
from infra.local.patches.lambda_runtime import _lambda_function, invoke_async

LOG = logging.getLogger(__name__)

CUSTOM_RESOURCE_RESPONSE_BUCKET_PREFIX = "cloudformation-custom-resource-response-"
DEFAULT_SERVICE_TIMEOUT_SECONDS = 3600
_POLL_SECONDS = 0.2
_MIN_POLL_SECONDS = 0.01


def custom_resource_response_bucket(region: str) -> str:
    """Name of the S3 bucket (service account) where custom-resource responses land."""
    return CUSTOM_RESOURCE_RESPONSE_BUCKET_PREFIX + region.replace("-", "")


# --- the request/response round trip -------------------------------------------------------------


def _response_url(region: str, key: str) -> str:
    """A URL shaped like CloudFormation's pre-signed S3 PUT URL for `key`."""
    now = dt.datetime.now(tz=dt.UTC)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    credential = quote(f"AKIA6GMLSTACKPILOT01/{now:%Y%m%d}/{region}/s3/aws4_request", safe="")
    signature = hmac.new(b"stackpilot-local", key.encode(), hashlib.sha256).hexdigest()
    host = f"{custom_resource_response_bucket(region)}.s3.amazonaws.com"
    return (
        f"https://{host}/{quote(key, safe='/')}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date={stamp}"
        f"&X-Amz-SignedHeaders=host&X-Amz-Expires=7200&X-Amz-Credential={credential}"
        f"&X-Amz-Signature={signature}"
    )


def _ensure_response_bucket(region: str) -> str:
    name = custom_resource_response_bucket(region)
    backend = backends.service_s3()
    if name not in backend.buckets:
        backend.create_bucket(name, region)
    return name


def _read_response(bucket_name: str, key: str) -> bytes | None:
    bucket = backends.service_s3().buckets.get(bucket_name)
    if bucket is None:
        return None
    for candidate in (key, quote(key, safe="/")):
        stored = bucket.keys.get(candidate)
        if stored is not None:
            return bytes(stored.value)
    return None


def _poll_interval() -> float:
    return min(_POLL_SECONDS, max(_MIN_POLL_SECONDS, _POLL_SECONDS * _scale() * 5))


def _await_response(bucket_name: str, key: str, timeout_seconds: float) -> bytes | None:
    generation = getattr(_tls, "generation", _state.generation)
    # Scaled like everything else, but never below a minute (or the real timeout, if shorter):
    # handler work is not scaled, and a cold import alone can take a second or two.
    deadline = time.monotonic() + max(timeout_seconds * _scale(), min(timeout_seconds, 60.0))
    while time.monotonic() < deadline:
        if generation != _state.generation:
            raise _Aborted(key)
        body = _read_response(bucket_name, key)
        if body is not None:
            return body
        _state.interrupt.wait(_poll_interval())
    return _read_response(bucket_name, key)


def _deliver_request(service_token: str, event: Mapping[str, Any]) -> None:
    parts = service_token.split(":")
    service = parts[2] if len(parts) > 5 else ""
    if service == "sns":
        backend = backends.sns(parts[4], parts[3])
        backend.publish(
            json.dumps(event), arn=service_token, subject="AWS CloudFormation custom resource request"
        )
    elif service == "lambda":
        invoke_async(_lambda_function(service_token), dict(event))
    else:
        raise ValueError(f"Invalid service token {service_token}")


@dataclass
class _CustomRequest:
    stack: Any
    logical_id: str
    resource_type: str
    request_type: str
    properties: dict[str, Any]
    physical_id: str | None = None
    old_properties: dict[str, Any] | None = None


def _request_event(request: _CustomRequest, request_id: str, response_url: str) -> dict[str, Any]:
    event: dict[str, Any] = {
        "RequestType": request.request_type,
        "ServiceToken": request.properties.get("ServiceToken"),
        "ResponseURL": response_url,
        "StackId": request.stack.stack_id,
        "RequestId": request_id,
        "LogicalResourceId": request.logical_id,
        "ResourceType": request.resource_type,
        "ResourceProperties": request.properties,
    }
    if request.physical_id is not None:
        event["PhysicalResourceId"] = request.physical_id
    if request.old_properties is not None:
        event["OldResourceProperties"] = request.old_properties
    return event


def _service_timeout(properties: Mapping[str, Any]) -> float:
    try:
        return float(properties.get("ServiceTimeout", DEFAULT_SERVICE_TIMEOUT_SECONDS))
    except (TypeError, ValueError):
        return float(DEFAULT_SERVICE_TIMEOUT_SECONDS)


def _parse_response(request: _CustomRequest, body: bytes | None, request_id: str) -> dict[str, Any]:
    """The responder's JSON, or _ResourceFailed with the reason CloudFormation would show."""

    def fail(reason: str) -> _ResourceFailed:
        return _ResourceFailed(request.logical_id, request.resource_type, reason)

    if body is None:
        raise fail(
            "CloudFormation did not receive a response from your Custom Resource. Please check your "
            f"logs for requestId [{request_id}]. If you are using the Python cfn-response module, you "
            "may need to update your Lambda function code so that CloudFormation can attach the "
            "updated version."
        )
    try:
        response = json.loads(body)
    except ValueError:
        raise fail(f"Invalid response object: {body[:200]!r} is not valid JSON") from None
    if not isinstance(response, dict):
        raise fail("Invalid response object: not a JSON object")
    if response.get("Status") != "SUCCESS":
        raise fail(
            f"Received response status [{response.get('Status')}] from custom resource. "
            f"Message returned: {response.get('Reason')}"
        )
    if not response.get("PhysicalResourceId"):
        raise fail("Invalid PhysicalResourceId")
    return response


def _send_custom_resource_request(request: _CustomRequest) -> dict[str, Any]:
    """Deliver the request to the ServiceToken and block until the S3 response or ServiceTimeout."""
    region = request.stack.region_name
    request_id = str(uuid.uuid4())
    key = f"{request.stack.stack_id}|{request.logical_id}|{request_id}"
    bucket = _ensure_response_bucket(region)
    event = _request_event(request, request_id, _response_url(region, key))
    try:
        _deliver_request(str(request.properties.get("ServiceToken")), event)
    except Exception as exc:
        raise _ResourceFailed(
            request.logical_id, request.resource_type, f"Failed to deliver request: {exc}"
        ) from exc
    body = _await_response(bucket, key, _service_timeout(request.properties))
    return _parse_response(request, body, request_id)


# --- CustomModel replacements ---------------------------------------------------------------------


def _new_custom_model(request: _CustomRequest, response: Mapping[str, Any]) -> Any:
    from moto.cloudformation.custom_model import CustomModel

    custom_model_class: Any = CustomModel  # moto's model class, typed abstract
    model = custom_model_class(
        request.stack.region_name,
        str(response.get("RequestId", "")),
        request.logical_id,
        str(response["PhysicalResourceId"]),
    )
    model.set_data(dict(response.get("Data") or {}))
    model.stackpilot_stack = request.stack
    model.stackpilot_type = request.resource_type
    model.stackpilot_properties = request.properties
    request.stack.add_custom_resource(model)
    return model


def _custom_create(
    cls: Any,
    /,
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Any:
    stack = _stack_for(kwargs["StackId"], account_id, region_name)
    request = _CustomRequest(
        stack=stack,
        logical_id=kwargs["LogicalId"],
        resource_type=kwargs["ResourceType"],
        request_type="Create",
        properties=dict(cloudformation_json.get("Properties") or {}),
    )
    return _new_custom_model(request, _send_custom_resource_request(request))


def _custom_update(
    cls: Any,
    original_resource: Any,
    new_resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
) -> Any:
    stack = original_resource.stackpilot_stack
    request = _CustomRequest(
        stack=stack,
        logical_id=original_resource.logical_id,
        resource_type=str(cloudformation_json.get("Type", original_resource.stackpilot_type)),
        request_type="Update",
        properties=dict(cloudformation_json.get("Properties") or {}),
        physical_id=original_resource.physical_resource_id,
        old_properties=original_resource.stackpilot_properties,
    )
    _add_resource_event(
        stack, request.logical_id, request.resource_type, "UPDATE_IN_PROGRESS", request.physical_id
    )
    try:
        model = _new_custom_model(request, _send_custom_resource_request(request))
    except _ResourceFailed as failed:
        _add_resource_event(
            stack,
            request.logical_id,
            request.resource_type,
            "UPDATE_FAILED",
            request.physical_id,
            failed.reason,
        )
        failed.action, failed.evented = "update", True
        raise
    _add_resource_event(
        stack, request.logical_id, request.resource_type, "UPDATE_COMPLETE", model.physical_resource_id
    )
    if model.physical_resource_id != original_resource.physical_resource_id:
        _delete_replaced(original_resource)
    return model


def _delete_replaced(original_resource: Any) -> None:
    """A new PhysicalResourceId means replacement: AWS deletes the old one during cleanup."""
    try:
        _custom_delete(original_resource, "", "")
    except _ResourceFailed as failed:
        LOG.warning("cleanup of replaced custom resource failed: %s", failed.reason)


def _custom_delete(self: Any, account_id: str, region_name: str) -> None:
    failure = getattr(self, "stackpilot_delete_failure", None)
    if failure is not None:  # a DeleteStack retry: the responder already refused once
        raise _ResourceFailed(failure.logical_id, failure.resource_type, failure.reason, "delete")
    stack = self.stackpilot_stack
    request = _CustomRequest(
        stack=stack,
        logical_id=self.logical_id,
        resource_type=self.stackpilot_type,
        request_type="Delete",
        properties=self.stackpilot_properties,
        physical_id=self.physical_resource_id,
    )
    _add_resource_event(
        stack, self.logical_id, self.stackpilot_type, "DELETE_IN_PROGRESS", self.physical_resource_id
    )
    try:
        _send_custom_resource_request(request)
    except _ResourceFailed as failed:
        self.stackpilot_delete_failure = failed
        _add_resource_event(
            stack,
            self.logical_id,
            self.stackpilot_type,
            "DELETE_FAILED",
            self.physical_resource_id,
            failed.reason,
        )
        failed.action, failed.evented = "delete", True
        raise
    _add_resource_event(
        stack, self.logical_id, self.stackpilot_type, "DELETE_COMPLETE", self.physical_resource_id
    )


def patch() -> None:
    from moto.cloudformation.custom_model import CustomModel

    name = "cloudformation custom resources"
    _replace(CustomModel, "create_from_cloudformation_json", classmethod(_custom_create), name)
    # CustomModel inherits these; set (not _replace) them on the class itself.
    _require_version(name)
    CustomModel.update_from_cloudformation_json = classmethod(_custom_update)  # type: ignore[assignment,method-assign]
    CustomModel.delete = _custom_delete  # type: ignore[attr-defined]
