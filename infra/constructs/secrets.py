"""The secrets domain (``functions/secrets``): its API function. Values are sealed with data keys
from the service KMS key, each bound to an encryption context (org, name, version)."""

from __future__ import annotations

from collections.abc import Sequence

from constructs import Construct

from infra.constructs.service_function import Platform, ServiceFunction
from infra.definitions import FunctionDef

DOMAIN = "secrets"


class Secrets(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, platform: Platform, definitions: Sequence[FunctionDef]
    ) -> None:
        super().__init__(scope, construct_id)
        if any(d.domain != DOMAIN for d in definitions):
            raise ValueError(f"Secrets builds {DOMAIN} functions only")
        self.functions = {
            d.key: ServiceFunction(self, d.construct_id, definition=d, platform=platform) for d in definitions
        }
