#!/usr/bin/env python3
"""Serves a toy request handler, instrumented in one line, and sends it traffic itself.

    DYN_SYSTEM_PORT=8081 ./request_handler.py
    curl -s localhost:8081/metrics | grep -v _bucket

The handler streams its prompt back reversed, a few characters at a time: an async generator,
the shape of a Dynamo handler. ``with endpoint.track_request()`` makes each call one tracked
request: counted, in flight until its stream ends, timed. An exception leaving it counts an
error named after its class; a caller that stops reading early counts a cancellation. The
traffic: a request every 20 ms, one prompt in five empty (a ``ValueError``), one caller in
seven stops after the first chunk.

``@endpoint.track_requests`` on the handler does the same in one line too, without the byte
counts and the time to the first chunk, which need the request object.
``DYN_SYSTEM_PORT=0`` picks a free port; the address is printed at start. Ctrl-C stops.
"""

import asyncio
import signal
import sys
from collections.abc import AsyncIterator

from dynamo.runtime import DistributedRuntime, Endpoint

PROMPTS = ["hello", "", "the quick brown fox", "dynamo", "metrics in one line"]


def make_handler(endpoint: Endpoint):
    async def generate(prompt: str) -> AsyncIterator[str]:
        """The toy handler: the prompt reversed, 4 characters per 5 ms step."""
        with endpoint.track_request() as request:  # the one line
            request.request_bytes(len(prompt.encode()))
            if not prompt:
                raise ValueError("empty prompt")
            reply = prompt[::-1]
            for start in range(0, len(reply), 4):
                await asyncio.sleep(0.005)
                chunk = reply[start : start + 4]
                request.first_response()  # the first call only counts
                request.response_bytes(len(chunk.encode()))
                yield chunk

    return generate


async def call(generate, i: int) -> None:
    """One client: reads the reply, or stops after its first chunk."""
    stream = generate(PROMPTS[i % len(PROMPTS)])
    try:
        async for _chunk in stream:
            if i % 7 == 6:
                break
    except ValueError:
        pass
    finally:
        await stream.aclose()


async def traffic(generate, stop: asyncio.Event) -> None:
    """A new client every 20 ms until ``stop`` is set, then waits for those still running."""
    clients: set[asyncio.Task[None]] = set()
    i = 0
    while not stop.is_set():
        client = asyncio.create_task(call(generate, i))
        clients.add(client)
        client.add_done_callback(clients.discard)
        i += 1
        try:
            await asyncio.wait_for(stop.wait(), timeout=0.02)
        except asyncio.TimeoutError:
            pass
    await asyncio.gather(*clients, return_exceptions=True)


async def serve(generate) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await traffic(generate, stop)


def main() -> int:
    drt = DistributedRuntime()
    address = drt.system_status_server_info()
    if address is None:
        print(
            "set DYN_SYSTEM_PORT (for example DYN_SYSTEM_PORT=8081) to serve /metrics",
            file=sys.stderr,
        )
        return 2

    endpoint = drt.namespace("example").component("llm").endpoint("generate")
    # Optional: a label on every request metric of this endpoint, set before the first request.
    endpoint.create_request_metrics(labels=[("model", "toy-reverser")])

    drt.set_health_status("ready")
    host, port = address
    print(
        f"system status server listening on {host}:{port}: "
        "GET /metrics, /health, /live (Ctrl-C stops)",
        flush=True,
    )
    asyncio.run(serve(make_handler(endpoint)))
    drt.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
