"""The releases domain's composition root: settings read once, tables bound once, and one ``…Deps``
per use case, each built once per process (a warm container reuses it)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from functions.releases.dal import repository
from functions.releases.exceptions import ServiceUnavailable
from functions.releases.settings import ReleasesSettings, get_settings
from functions.shared.integrations import aws

if TYPE_CHECKING:
    from functions.releases.logic.receiving import ReceiveDeps


@cache
def settings() -> ReleasesSettings:
    s = get_settings()
    repository.configure_from(s)
    return s


@cache
def receive_deps() -> ReceiveDeps:
    """The webhook receiver's: built at INIT with a Step Functions client (every tracked push starts an
    execution) and a Secrets Manager client built on first use (the secret is read then kept)."""
    from functions.releases.integrations.app_secrets import SecretsManagerValue
    from functions.releases.logic.receiving import ReceiveDeps
    from functions.shared.integrations.stepfunctions import StateMachine

    s = settings()
    return ReceiveDeps(
        webhook_secret=SecretsManagerValue(
            aws.LazyClient("secretsmanager", s.aws_region), s.github_webhook_secret_arn
        ),
        routes=repository.DynamoRouteDirectory(),
        deliveries=repository.DynamoDeliveryLog(),
        workflow=StateMachine(
            aws.client("stepfunctions", s.aws_region),
            s.release_state_machine_arn,
            unavailable=ServiceUnavailable,
        ),
    )
