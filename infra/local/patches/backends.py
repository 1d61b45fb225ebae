"""moto's backends, one getter each (written once, used by every section).

moto is imported inside each getter: importing a moto service module is slow (the local cloud's
start-up pays for what it uses only), and the getters always read moto's current backends (a reset
replaces their contents, never the dicts themselves).
"""

from __future__ import annotations

from typing import Any

from infra.local.patches._machinery import _state


def apigatewayv2(account_id: str, region_name: str) -> Any:
    from moto.apigatewayv2.models import apigatewayv2_backends

    return apigatewayv2_backends[account_id][region_name]


def application_autoscaling(account_id: str, region_name: str) -> Any:
    from moto.applicationautoscaling.models import applicationautoscaling_backends

    return applicationautoscaling_backends[account_id][region_name]


def autoscaling(account_id: str, region_name: str) -> Any:
    from moto.autoscaling.models import autoscaling_backends

    return autoscaling_backends[account_id][region_name]


def cloudformation(account_id: str, region_name: str) -> Any:
    from moto.cloudformation.models import cloudformation_backends

    return cloudformation_backends[account_id][region_name]


def ec2(account_id: str, region_name: str) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[account_id][region_name]


def ecs(account_id: str, region_name: str) -> Any:
    from moto.ecs.models import ecs_backends

    return ecs_backends[account_id][region_name]


def elbv2(account_id: str, region_name: str) -> Any:
    from moto.elbv2.models import elbv2_backends

    return elbv2_backends[account_id][region_name]


def events(account_id: str, region_name: str) -> Any:
    from moto.events.models import events_backends

    return events_backends[account_id][region_name]


def iam(account_id: str, partition: str = "aws") -> Any:
    """IAM is global: one backend per account and partition ("global" means "aws" to moto)."""
    from moto.iam.models import iam_backends

    return iam_backends[account_id][partition]


def iam_accounts() -> Any:
    """Every account's IAM backends (account id -> partition -> backend)."""
    from moto.iam.models import iam_backends

    return iam_backends


def lambda_(account_id: str, region_name: str) -> Any:
    from moto.awslambda.utils import get_backend

    return get_backend(account_id, region_name)


def logs(account_id: str, region_name: str) -> Any:
    from moto.logs.models import logs_backends

    return logs_backends[account_id][region_name]


def rds(account_id: str, region_name: str) -> Any:
    from moto.rds.models import rds_backends

    return rds_backends[account_id][region_name]


def s3(account_id: str, partition: str = "aws") -> Any:
    """S3 is global: one backend per account and partition (bucket names are global within it)."""
    from moto.s3.models import s3_backends

    return s3_backends[account_id][partition]


def service_s3() -> Any:
    """The service account's S3 (where custom-resource responses land)."""
    return s3(_state.service_account)


def secretsmanager(account_id: str, region_name: str) -> Any:
    from moto.secretsmanager.models import secretsmanager_backends

    return secretsmanager_backends[account_id][region_name]


def sns(account_id: str, region_name: str) -> Any:
    from moto.sns.models import sns_backends

    return sns_backends[account_id][region_name]


def ssm(account_id: str, region_name: str) -> Any:
    from moto.ssm.models import ssm_backends

    return ssm_backends[account_id][region_name]


def stepfunctions(account_id: str, region_name: str) -> Any:
    from moto.stepfunctions.responses import get_backend

    return get_backend(account_id, region_name)


def sts(account_id: str) -> Any:
    from moto.sts.models import sts_backends

    return sts_backends[account_id]["aws"]
