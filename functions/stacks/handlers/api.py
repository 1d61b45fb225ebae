"""REST API of the stacks domain: /stacks and one stack's status, history and template."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions import startup
from functions.shared.models.ids import STACK_ID_PATTERN
from functions.shared.observability import logger
from functions.shared.rest import resolver as rest
from functions.shared.rest.http import error_responses
from functions.stacks.handlers import composition
from functions.stacks.logic import requests
from functions.stacks.models.api import StackHistory, StackList, StackPreview, StackView
from functions.stacks.models.spec import StackChange, StackSpec

log = logger("stacks")
app = rest.rest_app(log)
StackIdPath = Annotated[str, Path(pattern=STACK_ID_PATTERN, description="A stack id")]
AUDIT_LOG = composition.audit_log()
DEPS = composition.request_deps()


@app.post(
    "/stacks",
    status_code=202,
    summary="Create a stack in a connected account",
    responses={202: {"description": "Accepted: the stack, CREATING; follow GET /stacks/{stack_id}"}}
    | error_responses(401, 403, 409, 415, 422, 424, 503, ok=None),
)
def create(body: Annotated[StackSpec, Body()]) -> Response[StackView]:
    stack = requests.request_create(DEPS, rest.principal(app), body, rest.request(app))
    return Response(status_code=202, body=StackView.of(stack), content_type="application/json")


@app.get("/stacks", summary="List the org's stacks", responses=error_responses(401))
def list_all() -> StackList:
    return StackList(items=[StackView.of(s) for s in requests.list_stacks(DEPS, rest.principal(app))])


@app.get("/stacks/<stack_id>", summary="Read one stack", responses=error_responses(401, 404))
def get_one(stack_id: StackIdPath) -> StackView:
    return StackView.of(requests.get_stack(DEPS, rest.principal(app), stack_id))


@app.patch(
    "/stacks/<stack_id>",
    summary="Change a stack: the change merges over its spec (null removes); preview it first",
    status_code=202,
    responses={
        202: {
            "description": "Accepted: the stack, UPDATING (follow GET /stacks/{stack_id}); or as it "
            "was, when the change changes nothing (no workflow runs)"
        }
    }
    | error_responses(401, 403, 404, 409, 415, 422, 424, 503, ok=None),
)
def update(stack_id: StackIdPath, body: Annotated[StackChange, Body()]) -> Response[StackView]:
    stack = requests.request_update(DEPS, rest.principal(app), stack_id, body, rest.request(app))
    return Response(status_code=202, body=StackView.of(stack), content_type="application/json")


@app.post(
    "/stacks/<stack_id>/preview",
    summary="What a change would do in your account (a change set, made, read and deleted)",
    responses=error_responses(401, 403, 404, 409, 415, 422, 424, 503),
)
def preview(stack_id: StackIdPath, body: Annotated[StackChange, Body()]) -> StackPreview:
    return requests.preview(DEPS, rest.principal(app), stack_id, body, rest.request(app))


@app.delete(
    "/stacks/<stack_id>",
    status_code=202,
    summary="Delete a stack from your account (a database keeps a final snapshot)",
    responses={202: {"description": "Accepted: the stack, DELETING; follow GET /stacks/{stack_id}"}}
    | error_responses(401, 403, 404, 409, 424, 503, ok=None),
)
def delete(stack_id: StackIdPath) -> Response[StackView]:
    stack = requests.request_delete(DEPS, rest.principal(app), stack_id, rest.request(app))
    return Response(status_code=202, body=StackView.of(stack), content_type="application/json")


@app.get(
    "/stacks/<stack_id>/events",
    summary="What happened to a stack, newest first",
    responses=error_responses(401, 404),
)
def events(
    stack_id: StackIdPath,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[str | None, Query(max_length=80, description="The at_key to continue after")] = None,
) -> StackHistory:
    return StackHistory(items=requests.history(DEPS, rest.principal(app), stack_id, limit, before))


@app.get(
    "/stacks/<stack_id>/template",
    summary="The CloudFormation template stackpilot rendered for the stack",
    responses=error_responses(401, 404),
)
def template(stack_id: StackIdPath) -> Response[str]:
    body = requests.template(DEPS, rest.principal(app), stack_id)
    return Response(status_code=200, body=body, content_type="application/json")


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return rest.handle(app, event, context, AUDIT_LOG, log)


startup.ready()  # INIT ends here
