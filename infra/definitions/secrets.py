"""The secrets domain: org-scoped secrets, envelope-encrypted with KMS."""

from __future__ import annotations

from infra.definitions.model import FunctionDef, Grant, RouteDef, TableDef
from infra.definitions.shared import AUDIT, COMMON_ENV

TABLES: tuple[TableDef, ...] = (
    TableDef("secrets", "SecretsTable", "functions.secrets.dal.models.SecretModel"),
)

FUNCTIONS: tuple[FunctionDef, ...] = (
    FunctionDef(
        key="secrets-api",
        construct_id="SecretsApi",
        domain="secrets",
        handler="functions.secrets.handlers.api.lambda_handler",
        description="REST: org-scoped secrets, envelope-encrypted with KMS (values never returned)",
        env=(*COMMON_ENV, "SECRETS_TABLE", "SECRETS_KEY_ID", "AUDIT_TABLE"),
        grants=(Grant("table:secrets", "read_write"), AUDIT, Grant("service_key", "data_keys")),
    ),
)

ROUTES: tuple[RouteDef, ...] = (
    RouteDef("GET", "/secrets", "secrets-api", "List secrets (metadata only)"),
    RouteDef("PUT", "/secrets/{name}", "secrets-api", "Store a secret"),
    RouteDef("DELETE", "/secrets/{name}", "secrets-api", "Delete a secret"),
)
