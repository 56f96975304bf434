#!/usr/bin/python3
"""RFC 6455 server conformance of wsbroker's /echo, in the manner of the
Autobahn TestSuite's fuzzingclient cases 1-7, 9 and 10 (Autobahn itself is
not installable here; its cases are reproduced by a raw-socket client).

    run_conformance.py --broker build/release/broker/wsbroker [--jobs 8]
                       [--filter REGEX] [--list] [--tls]

Starts two brokers on 127.0.0.1 port 0 (stock limits, and --max-message
65536 for the limit cases), runs every case on its own connection, several
at a time, then checks that both brokers are still alive and answering,
and that each exits 0 on SIGTERM with no sanitizer report on stderr.

--tls runs the same cases over wss://: the brokers get a TLS listener only
(--listen-tls 127.0.0.1:0 with a dev CA from tools/dev-ca.sh) and every
connection is TLS, trusting that CA (wsclient.TlsSocket: a chopped write is
still many small TLS records, so partial frames still reach the broker).

Prints one line per case, in case order:
    ok 3.1 RSV field 1 on a text frame
    FAIL 6.4.2 ...: expected close 1007 got 1000
then "N passed, N failed"; exits 1 on any failure.
"""

import argparse
import os
import re
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

sys.dont_write_bytecode = True   # leave no __pycache__ in the source tree (tests/lib too)
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

from broker import Broker, BrokerError, broker_path, dev_ca  # noqa: E402  (tests/lib)
import cases_close  # noqa: E402
import cases_fragmentation  # noqa: E402
import cases_framing  # noqa: E402
import cases_limits  # noqa: E402
import cases_ping  # noqa: E402
import cases_reserved  # noqa: E402
import cases_utf8  # noqa: E402
from case import sort_key  # noqa: E402
from wsclient import OP_TEXT, CaseFailure, WsClient  # noqa: E402

BROKER_ARGS = {
    "default": [],
    "limited": ["--max-message", str(cases_limits.SMALL_LIMIT)],
}
# The whole run must end well inside CTest's TIMEOUT (600 s).
DEFAULT_DEADLINE_S = 480.0

# --tls: the client SSLContext every connection uses (None: plain ws://).
TLS_CONTEXT = None


def open_client(b, path="/echo", **kw):
    """A WsClient to broker b, over TLS when --tls was given."""
    if TLS_CONTEXT is not None:
        kw.setdefault("ssl_context", TLS_CONTEXT)
    return WsClient(b.host, b.port, path, **kw)


def all_cases():
    out = []
    for mod in (cases_framing, cases_ping, cases_reserved, cases_fragmentation,
                cases_utf8, cases_close, cases_limits):
        out += mod.cases()
    ids = [c.id for c in out]
    dup = {i for i in ids if ids.count(i) > 1}
    assert not dup, f"duplicate case ids: {sorted(dup)}"
    return sorted(out, key=lambda c: sort_key(c.id))


def run_case(case, brokers):
    """(passed, detail, seconds) for one case."""
    b = brokers[case.broker]

    def connect(timeout=None, early=b""):
        kw = {} if timeout is None else {"timeout": timeout}
        return open_client(b, "/echo", early=early, **kw)

    start = time.monotonic()
    try:
        note = case.run(connect)
        return True, note, time.monotonic() - start
    except CaseFailure as e:
        return False, str(e), time.monotonic() - start
    except (OSError, EOFError) as e:
        return False, f"client I/O error: {e!r}", time.monotonic() - start
    except Exception:  # a bug in the case itself: say where
        tb = traceback.format_exc().strip().splitlines()
        return False, "case error: " + " | ".join(tb[-3:]), time.monotonic() - start


def broker_answers(b):
    """Still alive and echoing after everything the cases threw at it."""
    if b.proc is None or b.proc.poll() is not None:
        return f"broker exited during the run (status {b.proc.returncode if b.proc else '?'})"
    try:
        with open_client(b) as c:
            c.send_frame(OP_TEXT, b"still there?")
            c.expect_message(OP_TEXT, b"still there?")
            c.close_normal()
    except (CaseFailure, OSError, EOFError) as e:
        return f"broker no longer answers: {e}"
    return None


def stop_with_client(b):
    """SIGTERM with a client connected: the client gets close 1001 (contract),
    answers it, and the broker exits. Returns (problems, client_problem)."""
    try:
        c = open_client(b)
    except (CaseFailure, OSError) as e:
        return b.stop(check=False), f"cannot connect before SIGTERM: {e}"
    box = {}
    stopper = threading.Thread(target=lambda: box.setdefault("p", b.stop(check=False)),
                               daemon=True)
    stopper.start()
    why = None
    try:
        c.expect_fail(1001, timeout=10.0, what="close on SIGTERM")
    except (CaseFailure, OSError, EOFError) as e:
        why = str(e)
    finally:
        c.close_socket()
    stopper.join(60.0)
    if stopper.is_alive():
        return ["stop() did not return within 60 s"], why
    return box["p"], why


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--broker", help="wsbroker binary (default: $WSB_BROKER)")
    p.add_argument("--jobs", type=int, default=int(os.environ.get("WSB_CONFORMANCE_JOBS", 8)),
                   help="cases run at once (default 8)")
    p.add_argument("--filter", help="only cases whose id matches this regex (re.match)")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.add_argument("--deadline", type=float, default=DEFAULT_DEADLINE_S,
                   help="give up on cases still running after this many seconds")
    p.add_argument("--slowest", type=int, default=0, metavar="N",
                   help="also print the N slowest cases")
    p.add_argument("--tls", action="store_true",
                   help="run over wss:// (TLS listener, dev CA from tools/dev-ca.sh)")
    a = p.parse_args(argv)

    cases = all_cases()
    if a.filter:
        rx = re.compile(a.filter)
        cases = [c for c in cases if rx.match(c.id)]
    if a.list:
        for c in cases:
            print(f"{c.id} {c.title}" + (f" [{c.broker} broker]" if c.broker != "default" else ""))
        print(f"{len(cases)} cases")
        return 0
    if not cases:
        print("no cases match", file=sys.stderr)
        return 2

    global TLS_CONTEXT
    binary = broker_path(a.broker)
    t0 = time.monotonic()
    brokers = {}
    tls = None
    try:
        if a.tls:
            ca = dev_ca()
            tls = ca.tls(plain=False)
            TLS_CONTEXT = ca.client_context()
            print(f"over wss:// (dev CA {ca.ca})")
        for name in sorted({c.broker for c in cases} | {"default"}):
            brokers[name] = Broker(binary, BROKER_ARGS[name], listen="127.0.0.1:0",
                                   start_timeout=30.0, tls=tls).start()
    except BrokerError as e:
        for b in brokers.values():
            b.stop(check=False)
        print(f"FAIL broker start: {e}")
        print("0 passed, 1 failed")
        return 1

    results = {}
    # Heavy cases first so they overlap the many small ones.
    order = sorted(cases, key=lambda c: -c.weight)
    pool = ThreadPoolExecutor(max_workers=max(1, a.jobs), thread_name_prefix="case")
    futures = {c.id: pool.submit(run_case, c, brokers) for c in order}
    deadline = t0 + a.deadline
    for c in order:
        left = deadline - time.monotonic()
        try:
            results[c.id] = futures[c.id].result(timeout=max(0.0, left))
        except TimeoutError:
            results[c.id] = (False, f"still running after the {a.deadline:g} s deadline", 0.0)
    pool.shutdown(wait=False, cancel_futures=True)

    passed = failed = 0
    for c in cases:
        ok, detail, _ = results[c.id]
        if ok:
            passed += 1
            print(f"ok {c.id} {c.title}" + (f" ({detail})" if detail else ""))
        else:
            failed += 1
            print(f"FAIL {c.id} {c.title}: {detail}")

    # The brokers themselves: alive, answering, then a clean exit.
    for name, b in sorted(brokers.items()):
        why = broker_answers(b)
        label = f"broker.{name} alive and echoing after all cases"
        if why:
            failed += 1
            print(f"FAIL {label}: {why}")
        else:
            passed += 1
            print(f"ok {label}")
    for name, b in sorted(brokers.items()):
        problems, client_why = stop_with_client(b)
        label = f"broker.{name} sends close 1001 to a connected client on SIGTERM"
        if client_why:
            failed += 1
            print(f"FAIL {label}: {client_why}")
        else:
            passed += 1
            print(f"ok {label}")
        label = f"broker.{name} exits 0 on SIGTERM without sanitizer report"
        if problems:
            failed += 1
            print(f"FAIL {label}: " + "; ".join(problems))
            tail = b.stderr_lines()[-40:]
            print("  --- last broker stderr lines ---\n  " + "  ".join(tail))
        else:
            passed += 1
            print(f"ok {label}")

    if a.slowest:
        print(f"slowest {a.slowest}:")
        for cid, (_, _, secs) in sorted(results.items(), key=lambda kv: -kv[1][2])[:a.slowest]:
            print(f"  {secs:6.2f} s  {cid}")
    print(f"run time {time.monotonic() - t0:.1f} s")
    print(f"{passed} passed, {failed} failed")
    sys.stdout.flush()
    # A case stuck past the deadline holds a pool thread; do not wait for it.
    if any(t.name.startswith("case") and t.is_alive() for t in threading.enumerate()):
        os._exit(1 if failed else 0)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
