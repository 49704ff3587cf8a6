"""Decorator plumbing of the context managers of :mod:`dynamo`.

``endpoint.track_requests``, ``hist.time()``, ``gauge.track_inprogress()`` and
``counter.count_exceptions()`` are context managers implemented in the native module; used as
decorators, they call :func:`decorate`, which wraps plain functions, coroutine functions,
generator functions and async generator functions alike.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def decorate(func: F, new_context: Callable[[], AbstractContextManager[Any]]) -> F:
    """``func`` wrapped so that each call runs inside a fresh ``new_context()``.

    The context spans what the call does: the call of a plain function, the awaited body of a
    coroutine function (an ``asyncio`` cancellation leaves it with ``CancelledError``), and the
    whole iteration of a generator or async generator, from its first item to its end. A
    generator closed before its end (the consumer stopped) leaves it with ``GeneratorExit``.
    """
    if not callable(func):
        raise TypeError(f"can only decorate a callable, not {type(func).__name__}")

    if inspect.isasyncgenfunction(func):

        @functools.wraps(func)
        async def async_generator_wrapper(*args: Any, **kwargs: Any) -> Any:
            with new_context():
                items = func(*args, **kwargs)
                try:
                    async for item in items:
                        yield item
                finally:
                    await items.aclose()

        return async_generator_wrapper  # type: ignore[return-value]

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def coroutine_wrapper(*args: Any, **kwargs: Any) -> Any:
            with new_context():
                return await func(*args, **kwargs)

        return coroutine_wrapper  # type: ignore[return-value]

    if inspect.isgeneratorfunction(func):

        @functools.wraps(func)
        def generator_wrapper(*args: Any, **kwargs: Any) -> Any:
            with new_context():
                return (yield from func(*args, **kwargs))

        return generator_wrapper  # type: ignore[return-value]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with new_context():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
