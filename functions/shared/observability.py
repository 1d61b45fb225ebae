"""Logger shared by every function: JSON logs, correlation ids, nothing secret."""

from __future__ import annotations

import sys

from aws_lambda_powertools import Logger


class _Stdout:
    """Writes to whatever ``sys.stdout`` is now. Lambda never swaps it; test runners and the local
    cloud (many "containers" in one process) do, and a logger must not keep a closed stream."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


def logger(service: str) -> Logger:
    return Logger(service=service, use_rfc3339=True, stream=_Stdout())  # type: ignore[arg-type]
