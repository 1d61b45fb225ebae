"""What every domain shares: the common environment variables, the audit table every mutation
appends to (and the grant to do so), and ``environment``, every variable any function reads."""

from __future__ import annotations

from infra.definitions.model import SUPPORTED_REGIONS, FunctionDef, Grant, Names, TableDef

COMMON_ENV = ("STACKPILOT_STAGE", "SERVICE_ACCOUNT_ID", "POWERTOOLS_LOG_LEVEL")
AUDIT = Grant("table:audit", "append")

TABLES: tuple[TableDef, ...] = (
    TableDef("audit", "AuditTable", "functions.shared.dal.audit_store.AuditEntryModel"),
)


def environment(
    names: Names,
    *,
    jwt_issuer: str,
    jwt_audience: str,
    jwks_url: str,
    log_level: str = "INFO",
    stack_wait_first_seconds: int = 10,
    stack_wait_max_seconds: int = 120,
) -> dict[str, str]:
    """Every environment variable any function reads; each function gets the subset it names."""
    return {
        "STACKPILOT_STAGE": names.stage,
        "SERVICE_ACCOUNT_ID": names.account,
        "POWERTOOLS_LOG_LEVEL": log_level,
        "ACCOUNTS_TABLE": names.table("accounts"),
        "ACCOUNT_CALLBACKS_TABLE": names.table("account-callbacks"),
        "EVENT_BUS_NAME": names.event_bus,
        "SERVICE_BUCKET": names.service_bucket,
        "CONNECT_ACCOUNT_STATE_MACHINE_ARN": names.state_machine_arn("connect-account"),
        "CUSTOMER_ASSUMER_ROLE_ARN": names.customer_assumer_role_arn,
        "CALLBACK_TOPIC_NAME": names.callback_topic,
        "SUPPORTED_REGIONS": ",".join(SUPPORTED_REGIONS),
        "JWT_ISSUER": jwt_issuer,
        "JWT_AUDIENCE": jwt_audience,
        "JWKS_URL": jwks_url,
        "ORGS_TABLE": names.table("orgs"),
        "MEMBERS_TABLE": names.table("members"),
        "API_KEYS_TABLE": names.table("api-keys"),
        "AUDIT_TABLE": names.table("audit"),
        "API_KEY_PEPPER_SECRET": names.api_key_pepper_secret,
        "SECRETS_TABLE": names.table("secrets"),
        "SECRETS_KEY_ID": names.kms_alias,
        "STACKS_TABLE": names.table("stacks"),
        "STACK_HISTORY_TABLE": names.table("stack-history"),
        "PROVISION_STACK_STATE_MACHINE_ARN": names.state_machine_arn("provision-stack"),
        "DELETE_STACK_STATE_MACHINE_ARN": names.state_machine_arn("delete-stack"),
        "STACK_WAIT_FIRST_SECONDS": str(stack_wait_first_seconds),
        "STACK_WAIT_MAX_SECONDS": str(stack_wait_max_seconds),
    }


#: What every function's runtime gets, whatever it reads itself (CDK adds it beside Powertools' own
#: settings; the local cloud's process has it). pydantic looks for plugins in every installed
#: distribution's metadata the first time it builds a model (its entry points); none of ours uses
#: one, and the scan is ~2% of an API function's INIT.
RUNTIME_ENVIRONMENT = {"PYDANTIC_DISABLE_PLUGINS": "__all__"}


def function_environment(fn: FunctionDef, env: dict[str, str]) -> dict[str, str]:
    missing = [k for k in fn.env if k not in env]
    if missing:
        raise KeyError(f"{fn.key} needs environment {missing} that environment() does not define")
    return {k: env[k] for k in fn.env}
