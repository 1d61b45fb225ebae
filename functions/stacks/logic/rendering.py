"""From a stack record to its CloudFormation template (the renderer itself is the logic/template package)."""

from __future__ import annotations

from functions.shared.logic.customer_names import permissions_boundary_arn
from functions.stacks.logic.ports import ConnectionAccess
from functions.stacks.models.stack import Stack


def render(stack: Stack, access: ConnectionAccess, *, deletion_protection: bool = True) -> str:
    # Only the step that renders imports troposphere (~60 ms): reads and waits never pay for it.
    from functions.stacks.logic.network import SubnetFacts
    from functions.stacks.logic.template import StackTemplateInput, render_stack_template

    # The stored spec is the asked one with secret values masked: the template reads only the secret
    # names (their ARNs come from the stack record).
    return render_stack_template(
        StackTemplateInput(
            spec=stack.spec,
            stack_name=stack.cfn_stack_name,
            account_id=access.aws_account_id,
            permissions_boundary_arn=permissions_boundary_arn(access.aws_account_id, access.connection_id),
            secret_arns=dict(stack.secret_arns),
            subnets={sid: SubnetFacts(**facts) for sid, facts in stack.subnets.items()},  # type: ignore[arg-type]
            deletion_protection=deletion_protection,
        )
    )
