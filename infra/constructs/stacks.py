"""The stacks domain (``functions/stacks``): its API and the provision_stack workflow's functions.
They reach customers' accounts through the accounts domain's assumer role (granted in definitions)."""

from __future__ import annotations

from collections.abc import Sequence

from constructs import Construct

from infra.constructs.service_function import Platform, domain_functions
from infra.definitions import FunctionDef

DOMAIN = "stacks"


class Stacks(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, platform: Platform, definitions: Sequence[FunctionDef]
    ) -> None:
        super().__init__(scope, construct_id)
        self.functions = domain_functions(self, platform, definitions, DOMAIN)
