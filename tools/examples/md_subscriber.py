#!/usr/bin/python3
"""Print a market-data stream from wsbroker: one line per message.

    /usr/bin/python3 tools/examples/md_subscriber.py --url ws://127.0.0.1:8080/v1 \\
        [--pattern 'md.>'] [--snapshot] [--from SEQ] [--policy conflate] \\
        [--count N] [--duration S]

Each line is `TOPIC SEQ DATA`; a gap notice prints `TOPIC GAP FROM-TO`. The
connection reconnects and resumes by itself; duplicates never print. Stops
after --count messages or --duration seconds (0: neither; Ctrl-C ends it).
"""

import argparse
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from wsbroker_client import Client  # noqa: E402


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="ws://127.0.0.1:8080/v1")
    ap.add_argument("--pattern", default="md.>")
    ap.add_argument("--snapshot", action="store_true",
                    help="start with the latest message of every matching topic")
    ap.add_argument("--from", dest="from_seq", type=int, default=None,
                    help="resume: every retained message after this seq")
    ap.add_argument("--policy", choices=("drop", "conflate", "disconnect"), default=None)
    ap.add_argument("--count", type=int, default=0, help="stop after N messages")
    ap.add_argument("--duration", type=float, default=0.0, help="stop after S seconds")
    args = ap.parse_args()

    def gap(topic, lo, hi):
        print(f"{topic} GAP {lo}-{hi}", flush=True)

    client = await Client.connect(args.url, name="md-subscriber", on_gap=gap)
    try:
        sub = await client.subscribe(args.pattern, from_seq=args.from_seq,
                                     snapshot=args.snapshot, policy=args.policy)
        print(f"subscribed to {args.pattern}", flush=True)

        async def show():
            n = 0
            async for m in sub:
                print(f"{m.topic} {m.seq} {m.data!r}", flush=True)
                n += 1
                if n == args.count:
                    return

        if args.duration > 0:
            try:
                await asyncio.wait_for(show(), args.duration)
            except asyncio.TimeoutError:
                pass
        else:
            await show()
    finally:
        await client.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
