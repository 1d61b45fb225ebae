"""REST API of the tenancy domain: orgs, members, API keys and the audit log."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import AwareDatetime

from functions import startup
from functions.shared.clock import now
from functions.shared.dal.audit_store import DynamoAuditLog
from functions.shared.integrations import aws
from functions.shared.logic.auditing import RequestInfo
from functions.shared.models.audit import AuditExport
from functions.shared.models.principal import Principal
from functions.shared.observability import logger
from functions.shared.rest import resolver as rest
from functions.shared.rest.http import error_responses
from functions.tenancy.dal import repository
from functions.tenancy.integrations.pepper import SecretsManagerPepper
from functions.tenancy.logic import api_keys, audit_log, orgs
from functions.tenancy.logic.api_keys import ApiKeysDeps
from functions.tenancy.logic.audit_log import AuditDeps, AuditFilter
from functions.tenancy.logic.orgs import OrgsDeps
from functions.tenancy.models.api import (
    AddMemberRequest,
    ApiKeyList,
    ApiKeyView,
    AuditPage,
    AuditVerification,
    ChangeRoleRequest,
    CreateApiKeyRequest,
    CreatedApiKey,
    CreateOrgRequest,
    MemberList,
    MemberView,
    OrgView,
    RenameOrgRequest,
)
from functions.tenancy.models.org import KEY_ID_PATTERN
from functions.tenancy.settings import get_settings

log = logger("tenancy")
app = rest.rest_app(log)
UserIdPath = Annotated[str, Path(min_length=1, max_length=255, description="The member's user id")]
KeyIdPath = Annotated[str, Path(pattern=KEY_ID_PATTERN, description="The key id (after 'sp_')")]
# With an offset ("Z" or "+02:00"): a time without one names no instant, so it is a 422.
Since = Annotated[
    AwareDatetime | None, Query(description="From this time on (ISO 8601 with offset, inclusive)")
]
Until = Annotated[
    AwareDatetime | None, Query(description="Before this time (ISO 8601 with offset, exclusive)")
]


def _deps() -> tuple[OrgsDeps, ApiKeysDeps, AuditDeps, DynamoAuditLog]:
    s = get_settings()
    repository.configure_from(s)
    audit = DynamoAuditLog()
    store = repository.DynamoTenancyStore(audit)
    pepper = SecretsManagerPepper(aws.LazyClient("secretsmanager"), s.api_key_pepper_secret)
    return OrgsDeps(store, now), ApiKeysDeps(store, pepper, now), AuditDeps(audit, now), audit


ORGS, KEYS, AUDIT, AUDIT_LOG = _deps()


def _principal() -> Principal:
    return rest.principal(app)


def _info() -> RequestInfo:
    return rest.request(app)


# -- orgs ------------------------------------------------------------------------------------------


@app.post(
    "/orgs",
    status_code=201,
    summary="Create an org (you become its first owner)",
    responses={201: {"description": "The new org"}} | error_responses(401, 403, 415, 422, 503, ok=None),
)
def create_org(body: Annotated[CreateOrgRequest, Body()]) -> OrgView:
    return orgs.create_org(ORGS, rest.identity(app), body, _info())


@app.get(
    "/orgs/current", summary="The org you act in, and your role there", responses=error_responses(401, 403)
)
def current_org() -> OrgView:
    return orgs.current_org(ORGS, _principal())


@app.patch(
    "/orgs/current", summary="Rename the org (owner)", responses=error_responses(401, 403, 404, 415, 422, 503)
)
def rename_org(body: Annotated[RenameOrgRequest, Body()]) -> OrgView:
    return orgs.rename_org(ORGS, _principal(), body, _info())


# -- members ---------------------------------------------------------------------------------------


@app.get("/members", summary="List the org's members and their roles", responses=error_responses(401, 403))
def list_members() -> MemberList:
    return MemberList(items=orgs.list_members(ORGS, _principal()))


@app.post(
    "/members",
    status_code=201,
    summary="Add a member with a role",
    responses={201: {"description": "The new member"}}
    | error_responses(401, 403, 409, 415, 422, 503, ok=None),
)
def add_member(body: Annotated[AddMemberRequest, Body()]) -> MemberView:
    return orgs.add_member(ORGS, _principal(), body, _info())


@app.patch(
    "/members/<user_id>",
    summary="Change a member's role (effective on their next request)",
    responses=error_responses(401, 403, 404, 409, 415, 422, 503),
)
def change_role(user_id: UserIdPath, body: Annotated[ChangeRoleRequest, Body()]) -> MemberView:
    return orgs.change_role(ORGS, _principal(), user_id, body, _info())


@app.delete(
    "/members/<user_id>",
    status_code=204,
    summary="Remove a member (their API keys stop working)",
    responses={204: {"description": "Removed", "content": {}}}
    | error_responses(401, 403, 404, 409, 422, 503, ok=None),
)
def remove_member(user_id: UserIdPath) -> Response[Any]:
    orgs.remove_member(ORGS, _principal(), user_id, _info())
    return Response(status_code=204)


# -- API keys --------------------------------------------------------------------------------------


@app.post(
    "/api-keys",
    status_code=201,
    summary="Create an API key (shown once)",
    responses={201: {"description": "The key, shown this once"}}
    | error_responses(401, 403, 409, 415, 422, 503, ok=None),
)
def create_key(body: Annotated[CreateApiKeyRequest, Body()]) -> CreatedApiKey:
    return api_keys.create_key(KEYS, _principal(), body, _info())


@app.get("/api-keys", summary="List the org's API keys (never the keys)", responses=error_responses(401, 403))
def list_keys() -> ApiKeyList:
    return ApiKeyList(items=api_keys.list_keys(KEYS, _principal()))


@app.delete(
    "/api-keys/<key_id>",
    summary="Revoke an API key (at once)",
    responses=error_responses(401, 403, 404, 422, 503),
)
def revoke_key(key_id: KeyIdPath) -> ApiKeyView:
    return api_keys.revoke_key(KEYS, _principal(), key_id, _info())


# -- audit log -------------------------------------------------------------------------------------


@app.get("/audit", summary="The org's audit log, newest first", responses=error_responses(401, 403, 422))
def list_audit(
    since: Since = None,
    until: Until = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=300)] = None,
    result: Annotated[str | None, Query(pattern="^(succeeded|denied|failed)$")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[int | None, Query(ge=1, description="next_cursor of the previous page")] = None,
) -> AuditPage:
    flt = AuditFilter(action=action, actor=actor, result=result, since=since, until=until)
    return audit_log.page(AUDIT, _principal(), flt, limit, cursor)


@app.get(
    "/audit/export",
    summary="The whole hash chain for a period, to keep and verify offline",
    responses=error_responses(401, 403, 422),
)
def export_audit(since: Since = None, until: Until = None) -> AuditExport:
    return audit_log.export(AUDIT, _principal(), since, until)


@app.get(
    "/audit/verify",
    summary="Check the org's chain a page at a time; names the first entry altered, removed, reordered "
    "or inserted",
    responses=error_responses(401, 403, 422),
)
def verify_audit(
    after: Annotated[
        int, Query(ge=0, description="Check the entries after this one (0: from the genesis); next_after")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=audit_log.VERIFY_PAGE_MAX)] = audit_log.VERIFY_PAGE,
) -> AuditVerification:
    return audit_log.verify_chain(AUDIT, _principal(), after, limit)


# -- errors ----------------------------------------------------------------------------------------


@log.inject_lambda_context(correlation_id_path="requestContext.requestId", clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return rest.handle(app, event, context, AUDIT_LOG, log)


startup.ready()  # INIT ends here
