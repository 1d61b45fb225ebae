"""The audit entry of a refused or failed mutation: one per request. A failure whose request wrote
its own entry with the change it then undid (a stack workflow that could not start) adds none."""

from __future__ import annotations

from typing import Any

import pytest

from functions.shared.errors import DependencyDown
from functions.shared.observability import logger
from functions.shared.rest import resolver as rest
from tests.events import load_event

ORG = "org_refusals"


class Log:
    def __init__(self) -> None:
        self.drafts: list[Any] = []

    def record(self, draft: Any) -> None:
        self.drafts.append(draft)


def _post_stacks() -> dict[str, Any]:
    event = load_event("apigw/post_accounts.json")
    event.update(resource="/stacks", path="/stacks", body="{}")
    event["requestContext"].update(resourcePath="/stacks", authorizer={"org_id": ORG, "user_id": "cora"})
    return event


@pytest.mark.parametrize("audited", [True, False])
def test_a_failed_mutation_has_one_entry(audited: bool) -> None:
    app = rest.rest_app(logger("refusals-test"))

    @app.post("/stacks")
    def create() -> dict[str, str]:
        raise DependencyDown("the stack workflow could not be started; try again", audited=audited)

    log = Log()
    # WHEN the mutation fails with a 503
    answer = rest.handle(app, _post_stacks(), None, log, logger("refusals-test"))
    assert answer["statusCode"] == 503
    # THEN its entry is recorded here only when the request did not write one with its change
    assert [(d.action, d.result) for d in log.drafts] == ([] if audited else [("stack.create", "failed")])
    # AND the next request starts afresh
    app2 = rest.rest_app(logger("refusals-test"))

    @app2.post("/stacks")
    def refused() -> dict[str, str]:
        raise DependencyDown("down")

    rest.handle(app2, _post_stacks(), None, log, logger("refusals-test"))
    assert len(log.drafts) == (1 if audited else 2)
