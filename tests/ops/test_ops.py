#!/usr/bin/env python3
"""Operations: /metrics during real load, /healthz and /readyz, metrics-listen,
JSON logs, SIGHUP under wss load, the privilege drop, and the systemd unit.

Every test starts its own broker (tests/lib/broker.py) on 127.0.0.1:0 and
drives it with real clients (tools/wsbroker_client.py over websockets).
SIGTERM's close 1001 and exit 0 are proven by tests/broker/test_lifecycle.py
(Lifecycle.test_sigterm_closes_clients_with_1001); here draining is checked
from the probes' side.

Run: /usr/bin/python3 tests/ops/test_ops.py --broker build/.../wsbroker
"""

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from broker import Broker, broker_path, dev_ca, http_get  # noqa: E402
from wsbroker_client import Client  # noqa: E402

BROKER = None
UNIT = os.path.join(ROOT, "tools", "systemd", "wsbroker.service")
METRICS_RE = r"metrics on http://(\S+):(\d+) "


# --- plain HTTP and the Prometheus text format ---------------------------------

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_prometheus(text):
    """Strictly parses text format 0.0.4: {(name, frozenset(labels)): value}.
    Raises AssertionError on a malformed line or a sample without a TYPE."""
    types, samples = {}, {}
    assert text.endswith("\n"), "exposition must end with a newline"
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram"), line
            assert name not in types, f"TYPE twice for {name}"
            types[name] = kind
            continue
        m = SAMPLE_RE.match(line)
        assert m, f"malformed sample line: {line!r}"
        name, labels_text, value = m.group(1), m.group(3) or "", m.group(4)
        labels = dict(LABEL_RE.findall(labels_text))
        assert ",".join(f'{k}="{v}"' for k, v in labels.items()) == labels_text, line
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in types or (base in types and types[base] == "histogram"), \
            f"no TYPE for {name}"
        key = (name, frozenset(labels.items()))
        assert key not in samples, f"duplicate sample {line!r}"
        samples[key] = float(value)
    return types, samples


def total(samples, name, **labels):
    """The sum of name's samples over every worker (and matching labels)."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


class Scraper:
    """GETs of one broker's ops endpoints on the metrics listener (or the
    public one when metrics-listen is not set)."""

    def __init__(self, broker, metrics_listener=True):
        if metrics_listener:
            m = broker.wait_for_stderr(METRICS_RE, timeout=10)
            assert m, "no 'metrics on http://' line:\n" + broker.stderr()
            self.host, self.port = m.group(1), int(m.group(2))
        else:
            self.host, self.port = broker.host, broker.port
        self.count = 0

    def get(self, path):
        """(status, headers, body as text)."""
        self.count += 1
        status, headers, body = http_get(self.host, self.port, path)
        return status, headers, body.decode()

    def metrics(self):
        status, headers, body = self.get("/metrics")
        assert status == 200, (status, body)
        assert headers["content-type"].startswith("text/plain; version=0.0.4"), headers
        return parse_prometheus(body)[1]


COUNTERS = ("wsbroker_messages_in_total", "wsbroker_messages_out_total",
            "wsbroker_published_total", "wsbroker_deliveries_total",
            "wsbroker_bytes_in_total", "wsbroker_bytes_out_total", "wsbroker_socket_sends_total",
            "wsbroker_connections_accepted_total", "wsbroker_loop_iterations_total")


class Metrics(unittest.TestCase):
    SUBSCRIBERS = 6
    MESSAGES = 2000

    def test_format_and_histogram(self):
        with Broker(BROKER, ["--workers", "2", "--metrics-listen", "127.0.0.1:0"]) as b:
            scraper = Scraper(b)
            for _ in range(40):  # until both loops came round once (a tick: <= 250 ms)
                status, _, body = scraper.get("/metrics")
                self.assertEqual(status, 200)
                types, samples = parse_prometheus(body)
                if total(samples, "wsbroker_loop_iteration_seconds_count") >= 2 and all(
                        samples[("wsbroker_loop_iteration_seconds_count",
                                 frozenset({("worker", w)}))] > 0 for w in ("0", "1")):
                    break
                time.sleep(0.05)
            self.assertEqual(types["wsbroker_loop_iteration_seconds"], "histogram")
            self.assertEqual(types["wsbroker_drops_total"], "counter")
            self.assertEqual(samples[("wsbroker_workers", frozenset())], 2)
            self.assertEqual(samples[("wsbroker_ready", frozenset())], 1)
            for w in ("0", "1"):
                buckets = sorted(
                    ((float(dict(ls)["le"]), v) for (n, ls), v in samples.items()
                     if n == "wsbroker_loop_iteration_seconds_bucket"
                     and dict(ls)["worker"] == w), key=lambda x: x[0])
                self.assertEqual(buckets[-1][0], float("inf"))
                counts = [v for _, v in buckets]
                self.assertEqual(counts, sorted(counts), "buckets must be cumulative")
                count = samples[("wsbroker_loop_iteration_seconds_count",
                                 frozenset({("worker", w)}))]
                self.assertEqual(counts[-1], count)
                self.assertGreater(count, 0, "an idle loop still ticks")
                self.assertEqual(samples[("wsbroker_worker_running",
                                          frozenset({("worker", w)}))], 1)

    def test_counts_match_traffic_during_load(self):
        S, M = self.SUBSCRIBERS, self.MESSAGES
        with Broker(BROKER, ["--workers", "2", "--metrics-listen", "127.0.0.1:0"]) as b:
            scraper = Scraper(b)
            base = scraper.metrics()
            for name in COUNTERS[:4]:
                self.assertEqual(total(base, name), 0, name)
            during = []

            async def run():
                url = b.url_for("/v1")
                subs = []
                for i in range(S):
                    c = await Client.connect(url, name=f"sub{i}", reconnect=False)
                    subs.append((c, await c.subscribe("md.metrics")))
                pub = await Client.connect(url, name="pub", reconnect=False)
                stop = asyncio.Event()

                async def scrape_while_loaded():
                    while not stop.is_set() and len(during) < 50:
                        during.append(await asyncio.to_thread(scraper.metrics))
                        await asyncio.sleep(0.02)

                scraping = asyncio.create_task(scrape_while_loaded())
                for i in range(M):
                    await pub.publish("md.metrics", {"i": i}, confirm=(i % 50 == 49))
                await pub.publish("md.metrics", {"i": M}, confirm=True)
                for c, sub in subs:
                    seqs = []
                    while len(seqs) < M + 1:
                        m = await sub.get(timeout=30)
                        seqs.append(m.seq)
                    self.assertEqual(seqs, list(range(1, M + 2)))
                stop.set()
                await scraping
                # Scrape connections linger until their FIN arrives: wait
                # (bounded) until only the clients and this scrape are open.
                for _ in range(50):
                    final = await asyncio.to_thread(scraper.metrics)
                    if total(final, "wsbroker_connections") == S + 2:
                        break
                    await asyncio.sleep(0.05)
                for c, _ in subs:
                    await c.close()
                await pub.close()
                return final

            final = asyncio.run(asyncio.wait_for(run(), 120))
        self.assertGreater(len(during), 0, "no scrape ran during the load")
        # Counters never go backwards, and mid-load values are within the final ones.
        prev = base
        for snap in during + [final]:
            for name in COUNTERS:
                self.assertGreaterEqual(total(snap, name), total(prev, name), name)
            prev = snap
        published = M + 1
        # What the clients sent: hello from each, one sub per subscriber, the publishes.
        self.assertEqual(total(final, "wsbroker_published_total"), published)
        self.assertEqual(total(final, "wsbroker_deliveries_total"), S * published)
        self.assertEqual(total(final, "wsbroker_messages_in_total"), (S + 1) + S + published)
        # What they were sent: welcome each, subscribed per subscriber, the
        # deliveries, and one confirm per confirmed publish.
        confirms = sum(1 for i in range(M) if i % 50 == 49) + 1
        self.assertEqual(total(final, "wsbroker_messages_out_total"),
                         (S + 1) + S + S * published + confirms)
        self.assertEqual(total(final, "wsbroker_drops_total"), 0)
        self.assertEqual(total(final, "wsbroker_gap_notices_total"), 0)
        self.assertEqual(total(final, "wsbroker_retransmits_total"), 0)
        self.assertEqual(total(final, "wsbroker_topics"), 1)
        # Every client and every scrape so far is one accepted connection; the
        # clients and this scrape are open.
        scrapes_before_final = scraper.count - 1
        self.assertEqual(total(final, "wsbroker_connections_accepted_total"),
                         S + 1 + scraper.count)
        self.assertEqual(total(final, "wsbroker_http_requests_total"), scrapes_before_final)
        self.assertEqual(total(final, "wsbroker_connections"), S + 2)
        self.assertGreater(total(final, "wsbroker_bytes_in_total"), published * 10)
        self.assertGreater(total(final, "wsbroker_bytes_out_total"), S * published * 10)
        # Every connection was sent something (a 101 or an HTTP answer) by at
        # least one send; no send goes out without a frame or an answer in it.
        accepted = total(final, "wsbroker_connections_accepted_total")
        sends = total(final, "wsbroker_socket_sends_total")
        self.assertGreaterEqual(sends, accepted - 1)  # this scrape's answer is not sent yet
        self.assertLessEqual(sends, total(final, "wsbroker_messages_out_total") + accepted)
        self.assertGreater(total(final, "wsbroker_loop_busy_seconds_total"), 0)
        self.assertGreater(total(final, "wsbroker_loop_wait_seconds_total"), 0)
        print(f"  {len(during)} scrapes during load; final: "
              f"{total(final, 'wsbroker_deliveries_total'):.0f} deliveries", file=sys.stderr)

    def test_refusals_by_reason(self):
        with Broker(BROKER, ["--workers", "1", "--handshake-timeout", "200"]) as b:
            scraper = Scraper(b, metrics_listener=False)
            self.assertEqual(scraper.get("/nothing/here")[0], 404)
            with socket.create_connection((b.host, b.port), timeout=5) as s:
                s.sendall(b"GET /echo HTTP/1.1\r\n")       # never finished
                self.assertEqual(s.recv(100), b"")        # dropped at the timeout
            with socket.create_connection((b.host, b.port), timeout=5) as s:
                s.sendall(b"BREW /echo HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertIn(b" 405 ", s.recv(4096))
            samples = scraper.metrics()
        self.assertEqual(total(samples, "wsbroker_connections_refused_total",
                               reason="not_found"), 1)
        self.assertEqual(total(samples, "wsbroker_connections_refused_total",
                               reason="handshake_timeout"), 1)
        self.assertEqual(total(samples, "wsbroker_connections_refused_total",
                               reason="bad_request"), 1)


class Probes(unittest.TestCase):
    def test_ops_endpoints_on_every_listener_without_metrics_listen(self):
        with Broker(BROKER, ["--workers", "2"]) as b:
            status, _, body = http_get(b.host, b.port, "/readyz")
            self.assertEqual((status, body), (200, b"ready\n"))
            self.assertEqual(http_get(b.host, b.port, "/healthz")[:3:2], (200, b"ok\n"))
            self.assertEqual(http_get(b.host, b.port, "/metrics")[0], 200)

    def test_metrics_listen_serves_only_probes_and_public_listeners_none(self):
        with Broker(BROKER, ["--workers", "2", "--metrics-listen", "127.0.0.1:0"]) as b:
            sc = Scraper(b)
            for path in ("/metrics", "/healthz", "/readyz"):
                self.assertEqual(http_get(b.host, b.port, path)[0], 404, path)
                self.assertEqual(sc.get(path)[0], 200, path)
            # No WebSocket on the metrics listener.
            with socket.create_connection((sc.host, sc.port), timeout=5) as s:
                s.sendall(b"GET /v1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                          b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          b"Sec-WebSocket-Version: 13\r\n\r\n")
                self.assertIn(b" 404 ", s.recv(4096))
            self.assertEqual(sc.get("/v1")[0], 404)

    def test_readyz_503_while_draining(self):
        # A client that never answers the close keeps the broker draining
        # for close-timeout; the metrics listener stays open meanwhile.
        # The timeouts are far longer than the probes need: past the drain
        # deadline the broker aborts every connection, probes included, and
        # a loaded CI machine once took over 3 s to get here.
        b = Broker(BROKER, ["--workers", "2", "--metrics-listen", "127.0.0.1:0",
                            "--drain-timeout", "20000", "--close-timeout", "20000"]).start()
        try:
            sc = Scraper(b)
            self.assertEqual(sc.get("/readyz")[:3:2], (200, "ready\n"))
            stuck = socket.create_connection((b.host, b.port), timeout=10)
            stuck.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                          b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          b"Sec-WebSocket-Version: 13\r\n\r\n")
            self.assertIn(b" 101 ", stuck.recv(4096))
            started = time.monotonic()
            b.proc.send_signal(signal.SIGTERM)
            self.assertTrue(b.wait_for_stderr("closing connections", 10))
            status, _, body = sc.get("/readyz")
            self.assertEqual((status, body), (503, "draining\n"))
            samples = sc.metrics()
            self.assertEqual(samples[("wsbroker_ready", frozenset())], 0)
            self.assertEqual(sc.get("/healthz")[0], 200, "draining is not unhealthy")
            self.assertLess(time.monotonic() - started, 15.0, "probes came too late to count")
            # The public listener is closed while draining: each worker
            # closes its own (SO_REUSEPORT) socket when it wakes to the
            # stop, so allow it a moment on a loaded machine.
            deadline = time.monotonic() + 2.0
            while True:
                try:
                    socket.create_connection((b.host, b.port), timeout=2).close()
                except OSError:
                    break
                self.assertLess(time.monotonic(), deadline,
                                "the public listener still accepts while draining")
                time.sleep(0.05)
            stuck.close()
            b.proc.wait(timeout=15)
            self.assertEqual(b.proc.returncode, 0)
        finally:
            b.stop(check=False)  # it has exited: collects the status, stderr
        self.assertEqual(b.sanitizer_lines(), [])


class Logs(unittest.TestCase):
    def test_json_lines_parse_and_carry_fields(self):
        with Broker(BROKER, ["--workers", "1", "--log-format", "json",
                             "--log-level", "debug"]) as b:
            self.assertEqual(http_get(b.host, b.port, "/nothing")[0], 404)
            self.assertTrue(b.wait_for_stderr("refusing upgrade", 10))
        lines = [line for line in b.stderr_lines() if line.strip()]
        records = []
        for line in lines:
            try:
                records.append(json.loads(line))
            except ValueError:
                self.fail(f"not a JSON line: {line!r}")
        for r in records:
            self.assertEqual(set(r) & {"ts", "level", "msg"}, {"ts", "level", "msg"}, r)
            self.assertIn(r["level"], ("debug", "info", "warn", "error"))
            self.assertRegex(r["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        msgs = [r["msg"] for r in records]
        self.assertTrue(any(m.startswith("listening on ws://127.0.0.1:") for m in msgs))
        self.assertIn("stopped", msgs)
        refused = [r for r in records if "refusing upgrade: 404" in r["msg"]]
        self.assertEqual(len(refused), 1, records)
        self.assertIsInstance(refused[0]["fd"], int)
        self.assertEqual(refused[0]["worker"], 0)
        self.assertEqual(refused[0]["level"], "debug")

    def test_bad_log_format_is_named(self):
        r = subprocess.run([BROKER, "--log-format", "xml"], capture_output=True, text=True,
                           timeout=20)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--log-format", r.stderr)
        self.assertIn("text or json", r.stderr)


class Reload(unittest.TestCase):
    SUBSCRIBERS = 4
    MESSAGES = 1500
    SIGHUPS = 200

    def test_sighup_under_wss_load_loses_nothing(self):
        S, M = self.SUBSCRIBERS, self.MESSAGES
        ca = dev_ca()
        with Broker(BROKER, ["--workers", "2"], tls=ca.tls(plain=False)) as b:
            url = b.wss_url + "/v1"
            ctx = ca.client_context()
            seen = [[] for _ in range(S)]   # every msg envelope, before client de-dup
            hups = {"sent": 0}
            done = threading.Event()

            def send_sighups():
                while not done.is_set() and hups["sent"] < self.SIGHUPS:
                    b.reload()
                    hups["sent"] += 1
                    time.sleep(0.005)

            async def run():
                subs = []
                for i in range(S):
                    c = await Client.connect(url, name=f"s{i}", reconnect=False, ssl=ctx)
                    orig = c._on_msg

                    def record(env, i=i, orig=orig):
                        seen[i].append(env["seq"])
                        orig(env)
                    c._on_msg = record
                    subs.append((c, await c.subscribe("md.reload")))
                pub = await Client.connect(url, name="pub", reconnect=False, ssl=ctx)
                hup = threading.Thread(target=send_sighups)
                hup.start()
                try:
                    confirmed = [await pub.publish("md.reload", {"i": i}, confirm=True)
                                 for i in range(M)]
                finally:
                    done.set()
                    hup.join()
                self.assertEqual(confirmed, list(range(1, M + 1)))
                for c, sub in subs:
                    for _ in range(M):
                        await sub.get(timeout=30)
                    self.assertTrue(c._connected.is_set(), "a subscriber lost its connection")
                for c, _ in subs + [(pub, None)]:
                    await c.close()

            asyncio.run(asyncio.wait_for(run(), 180))
            self.assertTrue(b.wait_for_stderr("SIGHUP: TLS certificate and key reloaded", 10))
        for i in range(S):
            self.assertEqual(seen[i], list(range(1, M + 1)),
                             f"subscriber {i}: every seq exactly once, in order")
        reloads = sum("SIGHUP: TLS certificate and key reloaded" in line
                      for line in b.stderr_lines())
        self.assertGreater(hups["sent"], 0)
        print(f"  {hups['sent']} SIGHUPs sent during {M} confirmed publishes, {reloads} "
              f"reloads logged (the kernel merges pending signals)", file=sys.stderr)


class Privileges(unittest.TestCase):
    def test_drop_to_nobody(self):
        if os.geteuid() != 0:
            self.skipTest("the privilege drop needs root to test (running as uid "
                          f"{os.geteuid()})")
        # LeakSanitizer cannot ptrace a process that changed uid; leaks are
        # checked by every other test.
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
        with Broker(BROKER, ["--workers", "2", "--user", "nobody"], env=env) as b:
            self.assertTrue(b.wait_for_stderr("running as user nobody", 10))
            status = open(f"/proc/{b.pid}/status").read()
            uids = re.search(r"^Uid:\s+(.*)$", status, re.M).group(1).split()
            gids = re.search(r"^Gid:\s+(.*)$", status, re.M).group(1).split()
            groups = re.search(r"^Groups:\s*(.*)$", status, re.M).group(1).split()
            nobody = int(subprocess.run(["id", "-u", "nobody"], capture_output=True,
                                        text=True, check=True).stdout)
            self.assertEqual(set(map(int, uids)), {nobody}, status)
            self.assertNotIn("0", gids + groups, status)
            # Still serving: the rings and listeners were set up before the drop.
            async def echo():
                import websockets
                async with websockets.connect(b.url_for("/echo")) as ws:
                    await ws.send("after the drop")
                    return await asyncio.wait_for(ws.recv(), 10)
            self.assertEqual(asyncio.run(echo()), "after the drop")

    def test_bad_user_and_group_are_named(self):
        for args, want in ((["--user", "no-such-user-wsb"], "no such user"),
                           (["--group", "nogroup"], "--group: needs --user")):
            r = subprocess.run([BROKER, "--listen", "127.0.0.1:0", "--workers", "1", *args],
                               capture_output=True, text=True, timeout=30)
            self.assertNotEqual(r.returncode, 0, args)
            self.assertIn(want, r.stderr, args)


class SystemdUnit(unittest.TestCase):
    def setUp(self):
        self.analyze = shutil.which("systemd-analyze")
        if self.analyze is None:
            self.skipTest("systemd-analyze is not installed: the unit file is not verified")

    def unit_settings(self):
        settings = {}
        for line in open(UNIT):
            line = line.strip()
            if line and not line.startswith(("#", ";", "[")):
                key, _, value = line.partition("=")
                settings.setdefault(key, []).append(value)
        return settings

    def test_verify(self):
        # verify needs ExecStart's binary to exist: point it at the one built.
        d = tempfile.mkdtemp(prefix="wsb-unit-")
        try:
            text = open(UNIT).read()
            self.assertIn("ExecStart=/usr/local/bin/wsbroker", text)
            path = os.path.join(d, "wsbroker.service")
            with open(path, "w") as f:
                f.write(text.replace("/usr/local/bin/wsbroker", os.path.abspath(BROKER)))
            r = subprocess.run([self.analyze, "verify", path], capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            problems = [line for line in (r.stdout + r.stderr).splitlines()
                        if "wsbroker.service" in line]
            self.assertEqual(problems, [], r.stdout + r.stderr)
        finally:
            shutil.rmtree(d, True)

    def test_hardening_settings_present(self):
        s = self.unit_settings()
        for key, value in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                           ("ProtectHome", "yes"), ("PrivateTmp", "yes"),
                           ("DynamicUser", "yes")):
            self.assertEqual(s.get(key), [value], key)
        self.assertGreaterEqual(int(s["LimitNOFILE"][0]), 65536)
        self.assertIn("kill -HUP $MAINPID", s["ExecReload"][0])
        self.assertIn("AF_INET", s["RestrictAddressFamilies"][0])

    def test_syscall_filter_allows_io_uring(self):
        groups = {}

        def expand(item):
            """The system calls a filter item names, groups expanded recursively."""
            if not item.startswith("@"):
                return {item}
            if item not in groups:
                r = subprocess.run([self.analyze, "syscall-filter", item],
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(r.returncode, 0, r.stderr)
                groups[item] = set()
                for w in r.stdout.splitlines()[1:]:
                    w = w.strip()
                    if w and not w.startswith("#"):
                        groups[item] |= expand(w)
            return groups[item]

        allowed, denied = set(), set()
        for value in self.unit_settings().get("SystemCallFilter", []):
            deny = value.startswith("~")
            for item in value.lstrip("~").split():
                (denied if deny else allowed).update(expand(item))
        for call in ("io_uring_setup", "io_uring_enter", "io_uring_register", "accept4",
                     "sendmsg", "eventfd2", "mmap", "clone3"):
            self.assertIn(call, allowed, call)
            self.assertNotIn(call, denied, call)


def main():
    global BROKER
    ap = argparse.ArgumentParser()
    ap.add_argument("--broker")
    args, rest = ap.parse_known_args()
    BROKER = broker_path(args.broker)
    runner = unittest.TextTestRunner(verbosity=2)
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    if rest:
        suite = unittest.defaultTestLoader.loadTestsFromNames(rest, sys.modules[__name__])
    result = runner.run(suite)
    failed = len(result.failures) + len(result.errors)
    print(f"{result.testsRun - failed} passed, {failed} failed")
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
