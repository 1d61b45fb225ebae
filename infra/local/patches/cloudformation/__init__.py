"""5. CloudFormation: custom resources answered through S3, stack operations (inline or in the
background) with AWS's status sequences, resource events, rollback, injected faults and delays, and
"CloudFormation Stack/Resource Status Change" events on the stack account's default bus.

Each module patches its own moto internals (its `patch()`); `patch()` here applies them all.
"""

from __future__ import annotations

from infra.local.patches.cloudformation import (
    change_sets,
    create,
    custom_resources,
    delete,
    describe,
    status_events,
    templates,
    update,
)
from infra.local.patches.cloudformation import resources as _resources


def patch() -> None:
    custom_resources.patch()
    status_events.patch()
    create.patch()
    update.patch()
    delete.patch()
    change_sets.patch()
    describe.patch()
    templates.patch()
    _resources.patch()
