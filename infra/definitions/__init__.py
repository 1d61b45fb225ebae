"""The one description of what stackpilot is made of.

Both the CDK app (``infra/stack.py``) and the local cloud (``infra/local/cloud.py``) build from
this package, so the functions, tables, bus, topics, routes and state machines that run on a laptop
are the ones that deploy. Physical names derive from the stage, so every function can share one
environment (see ``environment``); values that only exist at deploy time (account, region) are
passed in by the caller, as literals locally and as CDK tokens in the app.

The package:
- ``model``: the building blocks (``Names``, ``Grant``, one dataclass per kind of resource), the
  repository's places and the supported regions;
- ``shared``: what every domain uses (the common environment, the audit table and its grant) and
  ``environment``, every variable any function reads;
- one module per domain (``accounts``, ``tenancy``, ``secrets``, ``stacks``) with that domain's
  tables, functions, state machines, schedules, bus rules, topics and routes.

This module composes them into the tuples everything imports. The order is part of the description:
CDK construct ids and the OpenAPI document follow it, and tests compare lists. A new domain adds its
module and its parts to the compositions below.
"""

from __future__ import annotations

from infra.definitions import accounts, secrets, shared, stacks, tenancy
from infra.definitions.accounts import ACCOUNTS_ENV
from infra.definitions.model import (
    HOME_REGION,
    REPO_ROOT,
    STATE_MACHINES_DIR,
    SUPPORTED_REGIONS,
    BusRuleDef,
    FunctionDef,
    Grant,
    Names,
    RouteDef,
    ScheduleDef,
    StateMachineDef,
    TableDef,
    TopicDef,
    asl_placeholders,
)
from infra.definitions.shared import AUDIT, COMMON_ENV, RUNTIME_ENVIRONMENT, environment, function_environment
from infra.definitions.stacks import STACKS_ENV
from infra.definitions.tenancy import TENANCY_ENV

__all__ = [
    "ACCOUNTS_ENV",
    "AUDIT",
    "BUS_RULES",
    "COMMON_ENV",
    "FUNCTIONS",
    "HOME_REGION",
    "REPO_ROOT",
    "ROUTES",
    "RUNTIME_ENVIRONMENT",
    "SCHEDULES",
    "STACKS_ENV",
    "STATE_MACHINES",
    "STATE_MACHINES_DIR",
    "SUPPORTED_REGIONS",
    "TABLES",
    "TENANCY_ENV",
    "TOPICS",
    "BusRuleDef",
    "FunctionDef",
    "Grant",
    "Names",
    "RouteDef",
    "ScheduleDef",
    "StateMachineDef",
    "TableDef",
    "TopicDef",
    "asl_placeholders",
    "environment",
    "function",
    "function_environment",
]

TABLES: tuple[TableDef, ...] = (
    *tenancy.TABLES,
    *shared.TABLES,
    *secrets.TABLES,
    *accounts.TABLES,
    *stacks.TABLES,
)
FUNCTIONS: tuple[FunctionDef, ...] = (
    *secrets.FUNCTIONS,
    *tenancy.FUNCTIONS,
    *accounts.FUNCTIONS,
    *stacks.FUNCTIONS,
)
STATE_MACHINES: tuple[StateMachineDef, ...] = (*accounts.STATE_MACHINES, *stacks.STATE_MACHINES)
BUS_RULES: tuple[BusRuleDef, ...] = (*stacks.BUS_RULES,)
SCHEDULES: tuple[ScheduleDef, ...] = (*accounts.SCHEDULES, *stacks.SCHEDULES)
TOPICS: tuple[TopicDef, ...] = (*accounts.TOPICS,)
ROUTES: tuple[RouteDef, ...] = (
    *accounts.ROUTES,
    *tenancy.ROUTES,
    *stacks.ROUTES,
    *secrets.ROUTES,
)


def function(key: str) -> FunctionDef:
    return next(f for f in FUNCTIONS if f.key == key)
