"""Lambda containers in one process: a new local cloud means new containers (handler modules
imported anew, settings, clients and caches rebuilt, log levels as the new environment asks)."""

from __future__ import annotations

import os


def fresh_containers() -> None:
    """A new local cloud means new Lambda containers: handler modules are imported anew on their
    next invocation, with fresh settings, clients and caches (they stay warm within one cloud)."""
    import sys

    for name in [n for n in sys.modules if n.startswith("functions.") and ".handlers." in n]:
        del sys.modules[name]
        # The package keeps the old module as an attribute: `from pkg import mod` would hand out the
        # stale module (and a test patching it would patch a container nobody runs any more).
        package, _, child = name.rpartition(".")
        if package in sys.modules and getattr(sys.modules[package], child, None) is not None:
            delattr(sys.modules[package], child)
    settings = sys.modules.get("functions.shared.settings")
    if settings is not None:
        settings.reset_all()  # every domain's settings, read again from this cloud's environment
    dynamo = sys.modules.get("functions.shared.dal.dynamo")
    if dynamo is not None:
        dynamo.connection.cache_clear()  # its client was bound to the previous endpoint
    aws = sys.modules.get("functions.shared.integrations.aws")
    if aws is not None:
        aws.client.cache_clear()
        aws.session.cache_clear()
    _reset_log_levels()


def _reset_log_levels() -> None:
    """Powertools configures a service's logger once per process and skips that afterwards: a new
    container must still log at the level its own environment asks for (POWERTOOLS_LOG_LEVEL)."""
    import logging

    from aws_lambda_powertools.logging.constants import LOGGER_ATTRIBUTE_PRECONFIGURED

    level = os.environ.get("POWERTOOLS_LOG_LEVEL", "INFO").upper()
    for candidate in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(candidate, logging.Logger) and getattr(
            candidate, LOGGER_ATTRIBUTE_PRECONFIGURED, False
        ):
            candidate.setLevel(level)


__all__ = ["fresh_containers"]
