"""The tenancy domain (``functions/tenancy``): its API function and the API-key pepper.

The authorizer is built by the ``Api`` construct (it belongs to the REST API's wiring); its
grants come from its definition like every other function's.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.constructs import nag
from infra.constructs.service_function import Platform, domain_functions
from infra.definitions import FunctionDef

DOMAIN = "tenancy"


class Tenancy(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, platform: Platform, definitions: Sequence[FunctionDef]
    ) -> None:
        super().__init__(scope, construct_id)
        self.functions = domain_functions(self, platform, definitions, DOMAIN)
        # API keys are stored as HMAC-SHA256(pepper, key): a stolen table alone cannot test guesses.
        self.pepper = secretsmanager.Secret(
            self,
            "ApiKeyPepper",
            secret_name=platform.names.api_key_pepper_secret,
            description="HMAC key for API-key hashes; rotating it invalidates every API key",
            encryption_key=platform.encryption_key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True, include_space=False
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )
        nag.acknowledge(
            self.pepper,
            "AwsSolutions-SMG4",
            "A pepper cannot rotate on a schedule: every stored API-key hash depends on it, so "
            "rotating it revokes every key. It is rotated by hand, as a deliberate revocation.",
        )
