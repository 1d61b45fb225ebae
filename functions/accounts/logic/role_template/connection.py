"""``Custom::StackpilotConnection``: tells stackpilot (SNS topic in the same region) that the roles
exist; it depends on every role and policy so the callback never races IAM.
"""

from __future__ import annotations

from troposphere import AccountId, GetAtt, Ref, Region, Template, cloudformation

from functions.accounts.logic.role_template.context import RoleTemplateInput
from functions.shared.logic.iam import cfn_lint_ignores


class StackpilotConnection(cloudformation.CustomResource):  # type: ignore[misc]
    """``Custom::StackpilotConnection``: the callback to stackpilot once the roles exist."""

    resource_type = "Custom::StackpilotConnection"
    props = {
        **cloudformation.CustomResource.props,
        "AccountId": (str, True),
        "ConnectionId": (str, True),
        "Nonce": (str, True),
        "OrgId": (str, False),
        "Region": (str, True),
        "RoleArn": (str, True),
        "TemplateVersion": (str, True),
        "UpgradeToken": (str, False),
    }


def add_connection(t: Template, inp: RoleTemplateInput, iam_resources: list[str]) -> None:
    """The callback, once every role and policy in ``iam_resources`` (logical ids) exists."""
    org: dict[str, str] = {"OrgId": inp.org_id} if inp.org_id else {}
    upgrade: dict[str, str] = {"UpgradeToken": inp.upgrade_token} if inp.upgrade_token else {}
    t.add_resource(
        StackpilotConnection(
            "StackpilotConnection",
            ServiceToken=inp.callback_topic_arn,
            # Fail fast (instead of the 1-hour default) if stackpilot never answers.
            ServiceTimeout=300,
            ConnectionId=Ref("ConnectionId"),
            Nonce=Ref("Nonce"),
            **org,
            RoleArn=GetAtt("DeployRole", "Arn"),
            AccountId=AccountId,
            Region=Region,
            TemplateVersion=inp.template_version,
            **upgrade,
            # The callback must only arrive once every role and policy exists (explicit, even
            # where a GetAtt already implies it, so a refactor cannot silently drop it).
            DependsOn=sorted(iam_resources),
            Metadata=cfn_lint_ignores("W3005"),
        )
    )
