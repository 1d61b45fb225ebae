"""The tenancy domain: orgs, members, API keys, the audit log's routes, and the API Gateway
authorizer every authorized route goes through."""

from __future__ import annotations

from infra.definitions.model import FunctionDef, Grant, RouteDef, TableDef
from infra.definitions.shared import AUDIT, COMMON_ENV

TENANCY_ENV = (
    *COMMON_ENV,
    "ORGS_TABLE",
    "MEMBERS_TABLE",
    "API_KEYS_TABLE",
    "AUDIT_TABLE",
    "API_KEY_PEPPER_SECRET",
)

TABLES: tuple[TableDef, ...] = (
    TableDef("orgs", "OrgsTable", "functions.tenancy.dal.models.OrgModel"),
    TableDef("members", "MembersTable", "functions.tenancy.dal.models.MemberModel"),
    TableDef("api-keys", "ApiKeysTable", "functions.tenancy.dal.models.ApiKeyModel"),
)

FUNCTIONS: tuple[FunctionDef, ...] = (
    FunctionDef(
        key="tenancy-authorizer",
        construct_id="Authorizer",
        domain="tenancy",
        handler="functions.tenancy.handlers.authorizer.lambda_handler",
        description="API Gateway authorizer: a JWT or API key, the role looked up, the route's rule applied",
        env=(*TENANCY_ENV, "JWT_ISSUER", "JWT_AUDIENCE", "JWKS_URL"),
        grants=(
            Grant("table:members", "read"),
            Grant("table:api-keys", "read_write"),  # last-used time
            AUDIT,  # refused mutations
            Grant("pepper", "read"),
        ),
        timeout_seconds=5,
    ),
    FunctionDef(
        key="tenancy-api",
        construct_id="TenancyApi",
        domain="tenancy",
        handler="functions.tenancy.handlers.api.lambda_handler",
        description="REST: orgs, members, API keys and the audit log",
        env=TENANCY_ENV,
        grants=(
            Grant("table:orgs", "read_write"),
            Grant("table:members", "read_write"),
            Grant("table:api-keys", "read_write"),
            AUDIT,
            Grant("pepper", "read"),
        ),
    ),
)

ROUTES: tuple[RouteDef, ...] = (
    RouteDef("POST", "/orgs", "tenancy-api", "Create an org"),
    RouteDef("GET", "/orgs/current", "tenancy-api", "The org you act in"),
    RouteDef("PATCH", "/orgs/current", "tenancy-api", "Rename the org"),
    RouteDef("GET", "/members", "tenancy-api", "List members"),
    RouteDef("POST", "/members", "tenancy-api", "Add a member"),
    RouteDef("PATCH", "/members/{user_id}", "tenancy-api", "Change a member's role"),
    RouteDef("DELETE", "/members/{user_id}", "tenancy-api", "Remove a member"),
    RouteDef("POST", "/api-keys", "tenancy-api", "Create an API key"),
    RouteDef("GET", "/api-keys", "tenancy-api", "List API keys"),
    RouteDef("DELETE", "/api-keys/{key_id}", "tenancy-api", "Revoke an API key"),
    RouteDef("GET", "/audit", "tenancy-api", "Read the audit log"),
    RouteDef("GET", "/audit/export", "tenancy-api", "Export the audit chain"),
    RouteDef("GET", "/audit/verify", "tenancy-api", "Verify the audit chain"),
)
