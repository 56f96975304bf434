#!/usr/bin/python3
"""A tiny stand-in for tools/md-feed in the demo test: publishes md-feed-shaped
quotes ({sym, bid, ask, last, bsz, asz, lsz, t: wall clock in microseconds})
to md.<SYMBOL> through tools/wsbroker_client.py, round-robin over the
symbols at about --rate messages a second, for at most --duration seconds.

    /usr/bin/python3 tests/demo/md_publish.py --url ws://127.0.0.1:PORT/v1 \\
        --symbols AAPL,MSFT --rate 100 --duration 60
"""

import argparse
import asyncio
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from wsbroker_client import Client  # noqa: E402


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--symbols", default="AAPL,MSFT,NVDA,AMZN,GOOG")
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--duration", type=float, default=60.0)
    args = ap.parse_args()
    symbols = args.symbols.split(",")
    mids = {s: 100.0 + 10 * i for i, s in enumerate(symbols)}
    client = await Client.connect(args.url, name="md-publish-test")
    end = time.monotonic() + args.duration
    n = 0
    while time.monotonic() < end:
        sym = symbols[n % len(symbols)]
        mids[sym] = max(1.0, mids[sym] + random.uniform(-0.05, 0.05))
        mid = mids[sym]
        await client.publish(f"md.{sym}", {
            "sym": sym, "bid": round(mid - 0.01, 2), "ask": round(mid + 0.01, 2),
            "last": round(mid, 2), "bsz": random.randint(1, 9) * 100,
            "asz": random.randint(1, 9) * 100, "lsz": random.randint(1, 5) * 100,
            "t": time.time_ns() // 1000,
        }, confirm=(n % 50 == 0))
        n += 1
        await asyncio.sleep(1.0 / args.rate)
    await client.close()


if __name__ == "__main__":
    asyncio.run(main())
