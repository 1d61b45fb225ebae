"""Validation of the input: every value that ends up in the template, and our own ARNs."""

from __future__ import annotations

import re
from typing import Final

from functions.accounts.logic.role_template.context import RoleTemplateInput
from functions.shared.logic.customer_names import _CONNECTION_ID_RE, _REGION_RE, _require
from functions.shared.logic.iam import ACCOUNT_ID_RE, PARTITION_RE, iam_arn_re

_EXTERNAL_ID_RE: Final = re.compile(r"[A-Za-z0-9_-]{43,128}")
_NONCE_RE: Final = re.compile(r"[A-Za-z0-9_-]{16,128}")
_PREFIX_RE: Final = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*-")
_VERSION_RE: Final = re.compile(r"[A-Za-z0-9._-]{1,16}")


def validate(inp: RoleTemplateInput) -> None:
    _require(_CONNECTION_ID_RE, inp.connection_id, "connection_id")
    _require(_EXTERNAL_ID_RE, inp.external_id, "external_id")
    _require(_NONCE_RE, inp.nonce, "nonce")
    _require(_REGION_RE, inp.region, "region")
    _require(ACCOUNT_ID_RE, inp.service_account_id, "service_account_id")
    _require(_PREFIX_RE, inp.stack_name_prefix, "stack_name_prefix")
    _require(_VERSION_RE, inp.template_version, "template_version")
    if inp.upgrade_token:
        _require(_NONCE_RE, inp.upgrade_token, "upgrade_token")
    if len(inp.stack_name_prefix) > 32:
        raise ValueError("invalid stack_name_prefix")
    acct = re.escape(inp.service_account_id)
    # Our own ARNs must belong to our account: a typo here would hand the customer's role to
    # somebody else.
    _require(iam_arn_re(inp.service_account_id, "role"), inp.assumer_role_arn, "assumer_role_arn")
    # A custom resource's ServiceToken must live in the stack's own region.
    _require(
        re.compile(rf"arn:{PARTITION_RE}:sns:{re.escape(inp.region)}:{acct}:[A-Za-z0-9_-]{{1,256}}"),
        inp.callback_topic_arn,
        "callback_topic_arn (must be in the connection's region)",
    )
    _require(
        re.compile(
            rf"arn:{PARTITION_RE}:events:[a-z]{{2}}(?:-[a-z]+)+-\d{{1,2}}:{acct}:event-bus/[\w.-]{{1,256}}"
        ),
        inp.event_bus_arn,
        "event_bus_arn",
    )
