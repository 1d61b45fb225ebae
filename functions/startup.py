"""A function's INIT, the import of its handler module, without the cyclic garbage collector.

INIT builds objects that live as long as the execution environment: pydantic validators, route tables,
clients, settings. CPython's collector does not know that: every ~700 net allocations it collects, and
every hundredth of those is a full collection over everything alive, which finds nothing here and
grows with what INIT has built. `make bench` measures it at 10-20 % of a handler's INIT CPU time.

So a handler module imports this module before any other of ours (``from functions import startup``
sorts first) and calls ``startup.ready()`` once its module-level work is done: the collector is paused
in between, then started again with what INIT built frozen (``gc.freeze``: moved to a generation it
never scans, so a warm request's full collection walks only what requests left behind). Importing
this module anywhere else is a mistake: the collector would stay paused until some handler is ready.

Only the first INIT in a process pauses: the local cloud imports handlers again in one process for
each new cloud, and a freeze there would make whatever garbage the process holds at that moment
permanent. Those later imports run with the collector as they find it.
"""

from __future__ import annotations

import gc

_paused: list[bool] = []  # [True] while this module holds the collector paused

if gc.isenabled():
    gc.disable()
    _paused.append(True)


def ready() -> None:
    """INIT is done: freeze what it built and start the collector again (if this INIT paused it)."""
    if _paused:
        _paused.clear()
        gc.freeze()
        gc.enable()
