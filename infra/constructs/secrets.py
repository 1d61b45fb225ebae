"""The secrets domain (``functions/secrets``): its API function. Values are sealed with data keys
from the service KMS key, each bound to an encryption context (org, name, version)."""

from __future__ import annotations

from collections.abc import Sequence

from constructs import Construct

from infra.constructs.service_function import Platform, domain_functions
from infra.definitions import FunctionDef

DOMAIN = "secrets"


class Secrets(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, platform: Platform, definitions: Sequence[FunctionDef]
    ) -> None:
        super().__init__(scope, construct_id)
        self.functions = domain_functions(self, platform, definitions, DOMAIN)
