"""The call of a health check handler, on the probe's own thread.

``endpoint.register_health_check(handler, payload)`` is implemented in the native module; each
probe calls :func:`answer`, which waits for the handler's answer whatever kind of function it
is.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any


class NoAnswerError(RuntimeError):
    """The handler's generator ended without yielding."""


def answer(handler: Callable[[Any], Any], payload: Any) -> None:
    """Calls ``handler(payload)`` and waits for its answer: the return of a plain function,
    the result of an ``async def`` (run on an event loop of this thread), or the first item of
    a generator or async generator (which is then closed). An exception is the answer of a
    failed probe."""
    result = handler(payload)
    if inspect.isgenerator(result):
        try:
            next(result)
        except StopIteration:
            raise NoAnswerError("the health check's generator yielded nothing") from None
        finally:
            result.close()
    elif inspect.isasyncgen(result):
        asyncio.run(_first_item(result))
    elif inspect.isawaitable(result):
        asyncio.run(_awaited(result))


async def _first_item(generator: Any) -> None:
    try:
        await generator.__anext__()
    except StopAsyncIteration:
        raise NoAnswerError("the health check's async generator yielded nothing") from None
    finally:
        await generator.aclose()


async def _awaited(awaitable: Any) -> None:
    await awaitable
