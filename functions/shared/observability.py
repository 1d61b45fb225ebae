"""Logger shared by every function: JSON logs, correlation ids, nothing secret."""

from __future__ import annotations

import sys
import threading
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter


class _Stdout:
    """Writes to whatever ``sys.stdout`` is now. Lambda never swaps it; test runners and the local
    cloud (many "containers" in one process) do, and a logger must not keep a closed stream."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


class _KeysPerThread(LambdaPowertoolsFormatter):
    """A Logger's keys (its Lambda context, correlation id, ``append_keys``) live on its formatter,
    which every Logger of one service shares in a process. Lambda runs one request per process; the
    local cloud runs every function in one, where a function's keys landed in another's lines (and
    ``clear_state`` wiped a running one's). Here each thread keeps its own keys: a thread a handler
    starts logs without them."""

    def __init__(self, **options: Any) -> None:
        self._threads = threading.local()
        super().__init__(**options)

    @property  # type: ignore[override]
    def log_format(self) -> dict[str, Any]:
        keys: dict[str, Any] | None = getattr(self._threads, "keys", None)
        if keys is None:
            keys = self._threads.keys = {**dict.fromkeys(self.log_record_order), **self.keys_combined}
        return keys

    @log_format.setter
    def log_format(self, keys: dict[str, Any]) -> None:
        self._threads.keys = keys


def logger(service: str) -> Logger:
    return Logger(
        service=service,
        stream=_Stdout(),  # type: ignore[arg-type]
        # `service` here too: the keys every thread starts from.
        logger_formatter=_KeysPerThread(use_rfc3339=True, service=service),
    )
