"""What every part of the onboarding template works with: the input, the names derived from it, the
tags of its resources and the regional ARN pattern its policies scope services to.
"""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import Ref, Sub, Tags

from functions.shared.logic.customer_names import TEMPLATE_VERSION, workload_path
from functions.shared.logic.iam import ARN, HERE


@dataclass(frozen=True)
class RoleTemplateInput:
    connection_id: str  # e.g. "conn_3f9a..."
    external_id: str  # server-generated, url-safe base64, 43+ chars
    nonce: str  # single-use, url-safe
    region: str  # the only region where this stack may be created
    service_account_id: str  # our AWS account (12 digits)
    # arn:aws:iam::<service_account_id>:role/stackpilot-<stage>-customer-assumer
    assumer_role_arn: str
    # arn:aws:sns:<region>:<service_account_id>:stackpilot-<stage>-connection-callbacks (same region)
    callback_topic_arn: str
    # arn:aws:events:<region>:<service_account_id>:event-bus/stackpilot-<stage>
    event_bus_arn: str
    stack_name_prefix: str  # "stackpilot-": customer stacks we manage are named with it
    template_version: str = TEMPLATE_VERSION
    # The connection's org: the callback reads the connection by its key (one consistent read)
    # instead of through the connection-id index and back. Not a secret; proves nothing on its own.
    org_id: str = ""
    # Only in a template rendered to upgrade an existing connection: the single-use token its
    # stack's Update presents (a literal of the private template, like the nonce's default), which
    # is how the callback knows the Update runs the template we rendered, not just any edit.
    upgrade_token: str = ""


@dataclass(frozen=True)
class Names:
    """Everything derived from the input that the policies need."""

    prefix: str  # "stackpilot-"
    base: str  # "stackpilot": IAM path / name-space of workload resources

    @property
    def path(self) -> str:
        return workload_path(self.prefix)


def tags(*extra: tuple[str, str]) -> Tags:
    return Tags(
        {
            "stackpilot:connection-id": Ref("ConnectionId"),
            "stackpilot:managed-by": "stackpilot",
            **dict(extra),
        }
    )


def regional(service: str) -> Sub:
    """Every resource of ``service`` in this account and the connection's region (for services
    whose ARNs hold generated ids, not names we control)."""
    return Sub(f"{ARN}:{service}:{HERE}:*")
