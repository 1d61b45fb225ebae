"""Every change stackpilot makes to a customer's stack goes the same way, written once here: the
rendered template is kept in our bucket, a change set is made from it in the customer's account
(CloudFormation reads the template through a short-lived link), and only then executed. A creation,
an update, a deletion's protection-off update and a preview differ only in what they do with the
change set."""

from __future__ import annotations

from functions.stacks.exceptions import ChangeSetFailed
from functions.stacks.logic.ports import CustomerStacks, Templates
from functions.stacks.logic.records import tags
from functions.stacks.models.customer import ChangeSet
from functions.stacks.models.stack import Stack

#: How long CloudFormation may take to read a template through its link.
TEMPLATE_URL_SECONDS = 3600


def make(
    templates: Templates,
    customer: CustomerStacks,
    stack: Stack,
    *,
    template: str,
    key: str,
    name: str,
    kind: str = "UPDATE",
) -> ChangeSet:
    """Keeps ``template`` under ``key``, then makes the change set ``name`` from it (settled)."""
    templates.put(key, template)
    return customer.create_change_set(
        stack.cfn_stack_id or stack.cfn_stack_name,
        name,
        templates.presigned_url(key, TEMPLATE_URL_SECONDS),
        kind,
        tags(stack),
    )


def execute(customer: CustomerStacks, change_set: ChangeSet, refused: str = "") -> bool:
    """Executes the change set; False when it would change nothing. A change set CloudFormation
    refused is a ``ChangeSetFailed`` whose message (after ``refused``) is CloudFormation's reason."""
    if change_set.empty:
        return False
    if change_set.status != "CREATE_COMPLETE":
        raise ChangeSetFailed(refused + (change_set.reason or "CloudFormation refused the change set"))
    customer.execute_change_set(change_set.change_set_id, change_set.stack_id)
    return True
