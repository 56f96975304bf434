#!/usr/bin/python3
"""Print a market-data stream from wsbroker: one line per message.

    /usr/bin/python3 tools/examples/md_subscriber.py --url ws://127.0.0.1:8080/v1 \\
        [--pattern 'md.>'] [--snapshot] [--from SEQ] [--policy conflate] \\
        [--count N] [--duration S] [--quotes]

Each line is `TOPIC SEQ DATA`; a gap notice prints `TOPIC GAP FROM-TO`. With
--quotes, tools/md-feed's quotes ({sym, bid, ask, last, bsz, asz, lsz, t})
print as `SYM #SEQ bid B x BSZ ask A x ASZ last L x LSZ latency MS ms`, the
latency being now minus the publisher's clock `t` (microseconds); anything
else prints as usual. The
connection reconnects and resumes by itself; duplicates never print. Stops
after --count messages or --duration seconds (0: neither; Ctrl-C ends it).
"""

import argparse
import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from wsbroker_client import Client  # noqa: E402


QUOTE_FIELDS = ("sym", "bid", "ask", "last", "bsz", "asz", "lsz", "t")


def format_message(m, quotes):
    """One output line for Message m."""
    q = m.data
    if quotes and isinstance(q, dict) and all(k in q for k in QUOTE_FIELDS):
        latency_ms = (time.time_ns() // 1000 - q["t"]) / 1000
        return (f"{q['sym']} #{m.seq} bid {q['bid']:.2f} x {q['bsz']} ask {q['ask']:.2f} x "
                f"{q['asz']} last {q['last']:.2f} x {q['lsz']} latency {latency_ms:.1f} ms")
    return f"{m.topic} {m.seq} {m.data!r}"


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
    ap.add_argument("--quotes", action="store_true",
                    help="print md-feed quotes as a quote line with latency")
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
                print(format_message(m, args.quotes), flush=True)
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
