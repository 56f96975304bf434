#!/usr/bin/python3
"""The classic WebSocket hello exchange, done through wsbroker.

A responder subscribes to `hello.request`. A requester subscribes to a reply
topic of its own, then publishes {"name": NAME, "reply_to": TOPIC} to
`hello.request`; the responder publishes "Hello, NAME!" to that reply topic.

    /usr/bin/python3 tools/examples/hello_request_reply.py --url ws://127.0.0.1:8080/v1 \\
        [--role both|responder|requester] [--name NAME] [--timeout S]

`both` (the default) runs the two in one process and exits after the reply;
`responder` serves until --timeout (0: forever); `requester` asks once.
"""

import argparse
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from wsbroker_client import Client  # noqa: E402

REQUEST_TOPIC = "hello.request"


async def responder(url, ready):
    client = await Client.connect(url, name="hello-responder")

    async def answer(m):
        request = m.data if isinstance(m.data, dict) else {}
        name, reply_to = request.get("name"), request.get("reply_to")
        if not isinstance(name, str) or not isinstance(reply_to, str):
            print(f"responder: ignoring malformed request {m.data!r}", flush=True)
            return
        print(f"responder: request #{m.seq} from {name!r}", flush=True)
        await client.publish(reply_to, f"Hello, {name}!")

    await client.subscribe(REQUEST_TOPIC, answer)
    print(f"responder: listening on {REQUEST_TOPIC}", flush=True)
    ready.set()
    return client


async def request(url, name, timeout):
    client = await Client.connect(url, name=f"hello-{name}")
    try:
        reply_to = f"hello.reply.{client.session}"
        replies = await client.subscribe(reply_to)
        await client.publish(REQUEST_TOPIC, {"name": name, "reply_to": reply_to}, confirm=True)
        reply = await replies.get(timeout)
        print(f"requester: {reply.data}", flush=True)
        return reply.data
    finally:
        await client.close()


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="ws://127.0.0.1:8080/v1")
    ap.add_argument("--role", choices=("both", "responder", "requester"), default="both")
    ap.add_argument("--name", default="world")
    ap.add_argument("--timeout", type=float, default=10.0,
                    help="seconds to wait for the reply; for a responder, how long to serve "
                         "(0: forever)")
    args = ap.parse_args()
    if args.role == "requester":
        await request(args.url, args.name, args.timeout)
        return
    ready = asyncio.Event()
    server = await responder(args.url, ready)
    try:
        if args.role == "both":
            await request(args.url, args.name, args.timeout)
        elif args.timeout > 0:
            await asyncio.sleep(args.timeout)
        else:
            await asyncio.Event().wait()
    finally:
        await server.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except asyncio.TimeoutError:
        sys.exit("hello_request_reply: no reply in time")
    except KeyboardInterrupt:
        pass
