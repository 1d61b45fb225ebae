"""The home-region stack: composes the constructs, all of them built from ``infra/definitions/``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import aws_cdk as cdk
from constructs import Construct

from infra.constructs import nag
from infra.constructs.accounts import ASSUME, Accounts
from infra.constructs.api import AUTHORIZER_FUNCTION, DEFAULT_BURST_LIMIT, DEFAULT_RATE_LIMIT, Api
from infra.constructs.data import Data
from infra.constructs.events import Events
from infra.constructs.secrets import Secrets
from infra.constructs.service_function import GrantTargets, Platform, ServiceFunction
from infra.constructs.stacks import Stacks
from infra.constructs.tenancy import Tenancy
from infra.constructs.workflows import Workflows
from infra.definitions import BUS_RULES, FUNCTIONS, ROUTES, SCHEDULES, Names, environment


@dataclass(frozen=True)
class Settings:
    """What an operator chooses per deployment (CDK context; see ``infra/app.py``)."""

    stage: str = "dev"
    jwt_issuer: str = "https://example.auth0.com/"
    jwt_audience: str = "stackpilot-api"
    api_rate_limit: int = DEFAULT_RATE_LIMIT
    api_burst_limit: int = DEFAULT_BURST_LIMIT

    @property
    def jwks_url(self) -> str:
        return self.jwt_issuer.rstrip("/") + "/.well-known/jwks.json"


class StackpilotStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        names = Names(settings.stage, self.account, self.region)
        data = Data(self, "Data", names=names)
        platform = Platform(
            names=names,
            environment=environment(
                names,
                jwt_issuer=settings.jwt_issuer,
                jwt_audience=settings.jwt_audience,
                jwks_url=settings.jwks_url,
            ),
            encryption_key=data.key,
        )
        bus = Events(self, "Events", names=names, encryption_key=data.key)
        stacks = Stacks(
            self, "Stacks", platform=platform, definitions=[f for f in FUNCTIONS if f.domain == "stacks"]
        )
        accounts = Accounts(
            self,
            "Accounts",
            platform=platform,
            definitions=[f for f in FUNCTIONS if f.domain == "accounts"],
            other_assumers=[
                stacks.functions[f.key] for f in FUNCTIONS if f.domain == "stacks" and ASSUME in f.grants
            ],
        )
        tenancy = Tenancy(
            self,
            "Tenancy",
            platform=platform,
            definitions=[f for f in FUNCTIONS if f.domain == "tenancy" and f.key != AUTHORIZER_FUNCTION],
        )
        secrets = Secrets(
            self, "Secrets", platform=platform, definitions=[f for f in FUNCTIONS if f.domain == "secrets"]
        )
        api = Api(
            self,
            "Api",
            platform=platform,
            routes=ROUTES,
            functions={**accounts.functions, **tenancy.functions, **secrets.functions, **stacks.functions},
            rate_limit=settings.api_rate_limit,
            burst_limit=settings.api_burst_limit,
        )
        self.functions: dict[str, ServiceFunction] = {
            **accounts.functions,
            **tenancy.functions,
            **secrets.functions,
            **stacks.functions,
            **api.functions,
        }
        _require_every_function(self.functions)
        workflows = Workflows(
            self, "Workflows", names=names, functions=self.functions, encryption_key=data.key
        )

        targets = GrantTargets(
            names=names,
            tables=data.tables,
            bus=bus.bus,
            bucket=accounts.bucket,
            state_machines=workflows.state_machines,
            assumer_role=accounts.assumer_role,
            pepper=tenancy.pepper,
            encryption_key=data.key,
        )
        for fn in self.functions.values():
            fn.apply_grants(targets)
        for schedule in SCHEDULES:
            target = (
                bus.lambda_target(self.functions[schedule.function].function)
                if schedule.function
                else bus.state_machine_target(workflows.state_machines[str(schedule.state_machine)])
            )
            bus.schedule(schedule, target, names)
        for rule in BUS_RULES:
            bus.bus_rule(rule, self.functions[rule.function].function, names)

        cdk.Aspects.of(self).add(
            nag.CheckovSkipsByType(
                "AWS::Lambda::Function",
                {
                    "CKV_AWS_117": "No VPC: the functions call only public AWS endpoints (DynamoDB, SQS, "
                    "STS, Step Functions, S3, customers' accounts); a VPC would add NAT cost and "
                    "cold-start latency and isolate nothing.",
                    "CKV_AWS_173": "The environment holds resource names, ARNs and non-secret "
                    "settings only; secrets are fetched from KMS-encrypted stores at run time.",
                },
            )
        )
        cdk.CfnOutput(self, "ApiUrl", value=api.rest_api.url)
        cdk.CfnOutput(self, "EventBusName", value=bus.bus.event_bus_name)


def _require_every_function(built: Mapping[str, ServiceFunction]) -> None:
    missing = [f"{f.key} (domain {f.domain})" for f in FUNCTIONS if f.key not in built]
    if missing:
        raise ValueError(f"no construct builds these FunctionDefs: {', '.join(missing)}")
