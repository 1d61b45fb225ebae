"""The few AWS answers that only their message text tells apart, gathered here, each with why no
error code or status does. Everything else is recognised by its error code, never by its words.

If AWS rewords one of these, the behaviour it guards degrades to the general case (noted on each),
and the tests that exercise it through the local cloud fail.
"""

from __future__ import annotations

#: CloudFormation marks a change set that would change nothing FAILED, with this reason; FAILED is
#: also what a refused template gets, and no other field tells the two apart. Unrecognised: an
#: update that changes nothing would be reported as refused.
CHANGE_SET_WITHOUT_CHANGES = "didn't contain changes"

#: DescribeStacks of a stack that is gone answers ValidationError, the code of every malformed call
#: too. Unrecognised: a vanished stack reads as a failed call (and is retried) instead of as gone.
STACK_DOES_NOT_EXIST = "does not exist"

#: Secrets Manager refuses to create or delete a secret that is scheduled for deletion with
#: InvalidRequestException, its code for many other refusals. Unrecognised: re-creating a stack
#: within the secrets' recovery window fails instead of restoring them.
SECRET_SCHEDULED_FOR_DELETION = "scheduled for deletion"  # noqa: S105 (a message, not a secret)

#: After the first resource of an operation fails, CloudFormation fails its siblings with this
#: reason; their status (CREATE_FAILED) is the same as the root cause's. Unrecognised: a sibling
#: could be reported as the root cause.
RESOURCE_CREATION_CANCELLED = "Resource creation cancelled"


def change_set_without_changes(status: str, reason: str | None) -> bool:
    return status == "FAILED" and CHANGE_SET_WITHOUT_CHANGES in (reason or "")


def stack_does_not_exist(code: str, message: str) -> bool:
    return code == "ValidationError" and STACK_DOES_NOT_EXIST in message


def secret_scheduled_for_deletion(message: str) -> bool:
    return SECRET_SCHEDULED_FOR_DELETION in message


def cancelled_sibling(reason: str | None) -> bool:
    return RESOURCE_CREATION_CANCELLED in (reason or "")
