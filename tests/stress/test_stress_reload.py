#!/usr/bin/env python3
"""The stress workload while the shared state changes under it.

Runs test_stress.py's publishers and subscribers (4 workers, every message
checked for order, gaps and duplicates) and, at the same time:
  - SIGHUP reloads, each with a changed live setting, so every worker
    adopts a new configuration pointer (broker/reload.c, worker.c) and
    every connection afterwards reads it;
  - /metrics and /healthz scrapes from two threads, so whichever worker
    answers reads every other worker's counters (metrics.c, health.c).
These are the broker's shared-state paths besides the rings. Built with
-DWSB_TSAN=ON it is a ThreadSanitizer test (tools/test.sh): the broker's
stderr must then hold no report. Each loop is bounded in count and time.

Run: /usr/bin/python3 tests/stress/test_stress_reload.py --broker PATH [--messages N]
"""

import argparse
import asyncio
import os
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(__file__))
from broker import Broker, broker_path  # noqa: E402
import test_stress  # noqa: E402

MAX_RELOADS = 200
MAX_SCRAPES = 2000  # per thread
SETTINGS = "workers = 4\nslow-consumer-bytes = 268435456\n"


def write_config(path, generation):
    with open(path, "w") as f:
        f.write(SETTINGS + f"max-message = {1048576 + generation}\n")


class Background:
    """Reloads and scrapes until stopped; records what went wrong."""

    def __init__(self, broker, conf):
        self.broker, self.conf = broker, conf
        self.stop = threading.Event()
        self.reloads = 0
        self.scrapes = 0
        self.errors = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.reload_loop),
                        threading.Thread(target=self.scrape_loop),
                        threading.Thread(target=self.scrape_loop)]

    def reload_loop(self):
        while not self.stop.is_set() and self.reloads < MAX_RELOADS:
            write_config(self.conf, self.reloads + 1)
            self.broker.reload()
            self.reloads += 1
            self.stop.wait(0.05)

    def scrape_loop(self):
        base = f"http://{self.broker.host}:{self.broker.port}"
        for _ in range(MAX_SCRAPES):
            if self.stop.is_set():
                return
            try:
                body = urllib.request.urlopen(base + "/metrics", timeout=10).read().decode()
                if "wsbroker_workers 4" not in body:
                    raise AssertionError("/metrics lacks 'wsbroker_workers 4'")
                urllib.request.urlopen(base + "/healthz", timeout=10).read()
            except Exception as e:  # noqa: BLE001 - collected, reported by main
                with self.lock:
                    self.errors.append(f"{type(e).__name__}: {e}")
                return
            with self.lock:
                self.scrapes += 1
            time.sleep(0.01)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(30)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--broker")
    ap.add_argument("--messages", type=int, default=400,
                    help="messages per publisher per topic (default 400)")
    args = ap.parse_args()
    start = time.monotonic()
    failed = 0
    conf = os.path.join(tempfile.mkdtemp(prefix="wsb-stress-reload-"), "wsbroker.conf")
    write_config(conf, 0)
    try:
        with Broker(broker_path(args.broker), ["--config", conf]) as b:
            with Background(b, conf) as bg:
                delivered = asyncio.run(asyncio.wait_for(
                    test_stress.run(b.url_for("/v1"), args.messages), test_stress.DEADLINE_S))
            if bg.errors:
                raise AssertionError("scrape failed: " + bg.errors[0])
            if bg.reloads == 0 or bg.scrapes == 0:
                raise AssertionError(f"nothing ran beside the workload: {bg.reloads} "
                                     f"reloads, {bg.scrapes} scrapes")
            if not b.wait_for_stderr("SIGHUP: configuration reloaded", 10):
                raise AssertionError("no reload was applied:\n" + b.stderr())
        published = args.messages * test_stress.PUBLISHERS * len(test_stress.TOPICS)
        expected = published * test_stress.SUBSCRIBERS
        if delivered != expected:
            raise AssertionError(f"delivered {delivered}, expected {expected}")
        print(f"stress.reload: {published} published, {delivered} delivered in order "
              f"during {bg.reloads} reloads and {bg.scrapes} scrapes "
              f"in {time.monotonic() - start:.1f} s")
    except Exception as e:  # noqa: BLE001 - report any failure as the test's
        print(f"FAIL: {type(e).__name__}: {e}")
        failed = 1
    print(f"{1 - failed} passed, {failed} failed")
    return failed


if __name__ == "__main__":
    sys.exit(main())
