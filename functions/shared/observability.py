"""Logger shared by every function: JSON logs, correlation ids, nothing secret."""

from __future__ import annotations

from aws_lambda_powertools import Logger


def logger(service: str) -> Logger:
    return Logger(service=service, use_rfc3339=True)
