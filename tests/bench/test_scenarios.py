#!/usr/bin/python3
"""Runs every wsbroker-bench scenario for about two seconds against a real
wsbroker (tests/lib/broker.py: ws:// and wss:// listeners on 127.0.0.1:0)
and checks each run's --json report: the fields a reader relies on are there
with sane values, every due message was delivered, and no gap, hole,
duplicate, reorder or error was reported. One run also writes --csv and, when
gnuplot is installed, draws it with bench/plot.gp. When nats-server and
mosquitto are installed (tools/install-deps.sh --test), the fan-out and
market scenarios also run against them (--adapter nats, mqtt) on loopback.

    /usr/bin/python3 tests/bench/test_scenarios.py --broker build/release/broker/wsbroker \
        --bench build/release/bench/wsbroker-bench/wsbroker-bench [--only NAME]

Every run is bounded (--duration, --drain, and a subprocess timeout)."""

import argparse
import atexit
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
from broker import Broker, dev_ca  # noqa: E402

RUN_TIMEOUT_S = 40  # any single run; the scenarios themselves take 2-4 s
SHORT = ["--duration", "1.5", "--warmup", "0.3", "--drain", "3"]
ECHO_SHORT = ["--duration", "1.5", "--warmup", "0.3"]


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def run_bench(bench, scenario, args):
    cmd = [bench, scenario] + args + ["--json"]
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    took = time.monotonic() - t0
    if p.returncode != 0:
        raise Failure(f"exit {p.returncode}\ncmd: {' '.join(cmd)}\nstdout: {p.stdout}\n"
                      f"stderr: {p.stderr}")
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    check(len(lines) == 1, f"one JSON line expected, got: {p.stdout!r}")
    return json.loads(lines[0]), took, p.stderr


def check_latency(lat, need_count=True):
    for k in ("p50", "p90", "p99", "p99_9", "max"):
        check(k in lat and lat[k] >= 0, f"latency_us.{k} missing or negative: {lat}")
    order = [lat["p50"], lat["p90"], lat["p99"], lat["p99_9"], lat.get("p99_99", lat["max"]),
             lat["max"]]
    check(order == sorted(order), f"percentiles out of order: {lat}")
    if need_count:
        check(lat.get("count", 1) > 0 and lat["p50"] > 0, f"no latency samples: {lat}")


def check_pubsub(r, scenario):
    check(r["scenario"] == scenario, f"scenario {r['scenario']!r}")
    for k in ("url", "publishers", "subscribers", "topics", "size", "ack", "rate",
              "duration_s", "warmup_s", "published_per_s", "delivered_per_s", "mb_per_s",
              "latency_us", "delivery", "publishes", "errors", "clean_closes", "zipf"):
        check(k in r, f"field {k} missing")
    check_latency(r["latency_us"])
    d = r["delivery"]
    check(d["due"] > 0 and d["delivered"] == d["due"],
          f"delivered {d['delivered']} of {d['due']} due")
    for k in ("gap_envelopes", "gap_msgs", "missing", "duplicates", "reorders", "after_gap",
              "undelivered", "faults"):
        check(d[k] == 0, f"delivery.{k} = {d[k]}")
    check(all(v == 0 for v in r["errors"].values()), f"errors: {r['errors']}")
    if r.get("adapter", "wsbroker") == "wsbroker":
        check(r["publishes"]["sent"] == r["publishes"]["confirmed"] > 0,
              f"publishes: {r['publishes']}")
    else:  # peers confirm nothing
        check(r["publishes"]["sent"] > 0, f"publishes: {r['publishes']}")
    check(r["delivered_per_s"] > 0 and r["published_per_s"] > 0, "nothing measured")
    check(r["mb_per_s"] > 0, "no MB/s")


def check_echo(r, scenario):
    check(r["scenario"] == scenario, f"scenario {r['scenario']!r}")
    for k in ("url", "connections", "msgs_per_s", "mb_per_s", "latency_us", "errors",
              "clean_closes"):
        check(k in r, f"field {k} missing")
    check_latency(r["latency_us"])
    check(r["msgs_per_s"] > 0, "no echoes")
    check(all(v == 0 for v in r["errors"].values()), f"errors: {r['errors']}")
    check(r["clean_closes"] == r["connections"], "not every connection closed cleanly")


def check_storm(r, want):
    check(r["scenario"] == "storm", f"scenario {r['scenario']!r}")
    for k in ("handshakes", "completed", "handshakes_per_s", "latency_us", "errors"):
        check(k in r, f"field {k} missing")
    check(r["completed"] == want == r["handshakes"], f"{r['completed']} of {want} handshakes")
    check(r["errors"] == 0, f"errors {r['errors']}")
    check(r["handshakes_per_s"] > 0, "no rate")
    check_latency(r["latency_us"])


def check_csv(path, plot_dir):
    with open(path) as f:
        rows = [ln.rstrip("\n").split(",") for ln in f]
    check(rows and rows[0][:4] == ["t_s", "phase", "sent", "received"], f"CSV header {rows[:1]}")
    measured = [r for r in rows[1:] if r[1] == "measure"]
    check(len(measured) >= 1, "no measurement rows in the CSV")
    check(sum(int(r[3]) for r in rows[1:]) > 0, "the CSV counts no deliveries")
    if shutil.which("gnuplot"):
        png = os.path.join(plot_dir, "series.png")
        subprocess.run(["gnuplot", "-e", f"csv='{path}'; png='{png}'",
                        os.path.join(ROOT, "bench", "plot.gp")],
                       check=True, timeout=60, capture_output=True)
        with open(png, "rb") as f:
            check(f.read(8) == b"\x89PNG\r\n\x1a\n", "plot.gp did not write a PNG")


def check_ramp(r, csv_path, rate, ramp_s, warmup_s, duration_s):
    """--ramp: the ramp's publishes are sent but not measured; the measured
    window runs at the full rate; the CSV marks the ramp's rows, whose sends
    rise."""
    check(r.get("ramp_s") == ramp_s, f"ramp_s {r.get('ramp_s')}")
    want = rate * ramp_s / 2 + rate * (warmup_s + duration_s)
    sent = r["publishes"]["sent"]
    # 10%: late sends on a loaded machine may miss the end; a full rate from the start
    # would be +22%, no publishes during the ramp -22%
    check(abs(sent - want) <= 0.1 * want, f"{sent} publishes sent, the schedule has {want}")
    measured = rate * duration_s
    check(r["published_per_s"] * duration_s <= measured * 1.02 + 2,
          f"published_per_s {r['published_per_s']}: the ramp or warm-up was measured")
    check(r["latency_us"]["count"] <= r["delivery"]["due"] - rate * ramp_s / 2 * r["subscribers"],
          "ramp latencies were recorded")
    with open(csv_path) as f:
        rows = [ln.rstrip("\n").split(",") for ln in f][1:]
    ramp = [int(x[2]) for x in rows if x[1] == "ramp"]
    check(len(ramp) >= 1, "no ramp rows in the CSV")
    full = [int(x[2]) for x in rows if x[1] == "measure"]
    check(ramp[0] < max(full), f"ramp rows send as much as the full rate: {ramp} vs {full}")


def check_series_csv(path, want_sent=None):
    """A --csv of echo or storm: the header, measured rows, and (storm) every
    connection started and every handshake counted once."""
    with open(path) as f:
        rows = [ln.rstrip("\n").split(",") for ln in f]
    check(rows and rows[0][:4] == ["t_s", "phase", "sent", "received"], f"CSV header {rows[:1]}")
    check(any(r[1] == "measure" for r in rows[1:]), "no measurement rows in the CSV")
    sent = sum(int(r[2]) for r in rows[1:])
    received = sum(int(r[3]) for r in rows[1:])
    check(received > 0, "the CSV counts nothing received")
    if want_sent is not None:
        check(sent == received == want_sent, f"CSV: {sent} sent, {received} received, "
              f"{want_sent} expected")


def check_progress(stderr, words):
    lines = [ln for ln in stderr.splitlines() if ln.startswith("wsbroker-bench:")]
    check(any(all(w in ln for w in words) for ln in lines),
          f"no progress line with {words} on stderr: {stderr!r}")


def check_usage_error(bench, args, needle):
    p = subprocess.run([bench] + args, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    check(p.returncode == 2 and needle in p.stderr,
          f"{args}: exit {p.returncode}, stderr {p.stderr!r} (wanted 2 and {needle!r})")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Failure(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise Failure(f"{what} does not listen on {port}")


PEER_TRIES = 5


def start_peer(tmp, name, cmd, conf_text):
    """Starts a peer that must be told its ports (it cannot take port 0):
    two distinct free ports, a config from conf_text(plain, ws), and wait
    until it listens. A port found free can be taken before the peer binds
    it (other tests run alongside and open client sockets), so a peer that
    exits at once is tried again with new ports, up to PEER_TRIES times.
    Returns its WebSocket port and process."""
    errors = []
    for attempt in range(PEER_TRIES):
        plain = free_port()
        ws = free_port()
        while ws == plain:
            ws = free_port()
        conf = os.path.join(tmp, f"{name}.conf")
        log = os.path.join(tmp, f"{name}.{attempt}.log")
        with open(conf, "w") as f:
            f.write(conf_text(plain, ws))
        with open(log, "w") as err:
            p = subprocess.Popen(cmd + [conf], stdout=subprocess.DEVNULL, stderr=err)
        try:
            wait_port(ws, p, name)
            return ws, p
        except Failure as e:
            if p.poll() is None:
                p.kill()
            p.wait()
            with open(log) as f:
                errors.append(f"{e}: {f.read().strip()[-300:]}")
    raise Failure(f"{name} did not start in {PEER_TRIES} tries:\n" + "\n".join(errors))


def start_peers(tmp, peers):
    """nats-server and mosquitto with WebSocket listeners on loopback, when
    installed, appended to peers as (adapter, url, Popen) as each starts (so
    that stop_peers stops the first when the second fails)."""
    if shutil.which("nats-server"):
        ws, p = start_peer(tmp, "nats-server", ["nats-server", "-c"],
                           lambda plain, ws: f"listen: 127.0.0.1:{plain}\n"
                           f'websocket {{ listen: "127.0.0.1:{ws}", no_tls: true }}\n')
        peers.append(("nats", f"ws://127.0.0.1:{ws}/", p))
    if shutil.which("mosquitto"):
        # its websockets listener starts only next to a plain one
        ws, p = start_peer(tmp, "mosquitto", ["mosquitto", "-c"],
                           lambda plain, ws: f"listener {plain} 127.0.0.1\nlistener {ws} 127.0.0.1\n"
                           "protocol websockets\nallow_anonymous true\npersistence false\n")
        peers.append(("mqtt", f"ws://127.0.0.1:{ws}/", p))


def stop_peers(peers):
    for _, _, p in peers:
        if p.poll() is not None:
            continue
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--broker", required=True)
    ap.add_argument("--bench", required=True)
    ap.add_argument("--only", help="run the cases whose name contains this")
    a = ap.parse_args()
    ca = dev_ca()
    tmp = tempfile.mkdtemp(prefix="wsb-bench-test-")
    csv = os.path.join(tmp, "fanout.csv")
    csv_ramp = os.path.join(tmp, "ramp.csv")
    csv_echo = os.path.join(tmp, "echo.csv")
    csv_storm = os.path.join(tmp, "storm.csv")
    failures = 0
    peers = []
    atexit.register(stop_peers, peers)  # also when something below raises
    start_peers(tmp, peers)
    with Broker(a.broker, args=["--workers", "2"], tls=ca.tls()) as b:
        ws, wss = b.url_for("/v1", tls=False), b.url_for("/v1", tls=True)
        echo, echo_tls = b.url_for("/echo", tls=False), b.url_for("/echo", tls=True)
        tls = ["--ca", ca.ca]
        cases = [
            ("fanout", "fanout", [ws, "--subscribers", "50", "--rate", "500", "--csv", csv,
                                  "--progress"], check_pubsub),
            ("fanout-ramp", "fanout", [ws, "--subscribers", "10", "--rate", "1000", "--ramp",
                                       "1", "--csv", csv_ramp], check_pubsub),
            ("fanout-closed", "fanout", [ws, "--subscribers", "2", "--inflight", "8"],
             check_pubsub),
            ("fanout-wss", "fanout", [wss, "--subscribers", "10", "--rate", "100"] + tls,
             check_pubsub),
            ("fanin", "fanin", [ws, "--publishers", "10", "--rate", "500"], check_pubsub),
            ("market", "market", [ws, "--topics", "20", "--subscribers", "100", "--rate",
                                  "500"], check_pubsub),
            ("market-reliable", "market", [ws, "--topics", "20", "--subscribers", "30",
                                           "--rate", "500", "--ack", "manual", "--ack-ms", "5"],
             check_pubsub),
            ("reliable", "reliable", [ws, "--subscribers", "20", "--rate", "200", "--window",
                                      "100", "--ack-every", "16"], check_pubsub),
            ("resume", "resume", [ws, "--subscribers", "20", "--rate", "200"], check_pubsub),
            ("echo", "echo", [echo, "--connections", "4"], check_echo),
            ("echo-open", "echo", [echo, "--connections", "4", "--rate", "2000"], check_echo),
            ("echo-ramp-csv", "echo", [echo, "--connections", "4", "--rate", "2000", "--ramp",
                                       "1", "--csv", csv_echo, "--progress"], check_echo),
            ("echo-wss", "echo", [echo_tls, "--connections", "2"] + tls, check_echo),
            ("storm", "storm", [echo, "--handshakes", "300", "--connections", "20"], None),
            ("storm-csv", "storm", [echo, "--handshakes", "300", "--connections", "20", "--csv",
                                    csv_storm, "--progress"], None),
            ("storm-wss", "storm", [echo_tls, "--handshakes", "40", "--connections", "8"] + tls,
             None),
        ]
        for adapter, url, _ in peers:
            cases += [
                (f"fanout-{adapter}", "fanout", [url, "--adapter", adapter, "--subscribers", "50",
                                                 "--rate", "500"], check_pubsub),
                (f"market-{adapter}", "market", [url, "--adapter", adapter, "--topics", "20",
                                                 "--subscribers", "100", "--rate", "500"],
                 check_pubsub),
            ]
        for name, scenario, args, checker in cases:
            if a.only and a.only not in name:
                continue
            url, rest = args[0], args[1:]
            short = ECHO_SHORT if scenario in ("echo", "storm") else SHORT
            if scenario == "storm":
                short = []
            try:
                r, took, err = run_bench(a.bench, scenario, ["--url", url] + short + rest)
                if scenario == "storm":
                    check_storm(r, int(rest[rest.index("--handshakes") + 1]))
                else:
                    checker(r, scenario)
                if name == "reliable":
                    check(r["ack"] == "manual" and r["acks"] > 0, "manual acks were not sent")
                    check(r["ack_every"] == 16 and r["ack_ms"] == 1, f"ack policy {r}")
                if name == "market-reliable":
                    check(r["acks"] > 0 and r["ack_ms"] == 5, f"--ack-ms 5: {r.get('ack_ms')}")
                if name == "resume":
                    res = r.get("resume", {})
                    check(res.get("dropped") == 20 and res.get("caught_up") == 20,
                          f"resume: {res}")
                if name.startswith("market"):
                    check(r["zipf"] > 0 and r["topics"] == 20, "market is not Zipf over 20")
                    check(r["symbols_per_sub"] == 10, "market subscribers are not on 10 symbols")
                if name == "fanout":
                    check_csv(csv, tmp)
                    check_progress(err, ["published", "delivered"])
                if name == "echo-ramp-csv":
                    check(r["ramp_s"] == 1.0, f"ramp_s {r.get('ramp_s')}")
                    check(r["messages"] <= 2000 * 1.5 + 2, f"{r['messages']} echoes measured: the "
                          "ramp or warm-up was counted")
                    check_series_csv(csv_echo)
                    with open(csv_echo) as f:  # sends are counted at their scheduled time
                        rows = [ln.split(",") for ln in f][1:]
                    ramp = [int(x[2]) for x in rows if x[1] == "ramp"]
                    full = [int(x[2]) for x in rows if x[1] == "warmup"]
                    check(ramp and full and ramp[0] < full[0],
                          f"echo CSV: ramp rows {ramp} do not send less than warm-up rows {full}")
                    check_progress(err, ["sent", "echoed"])
                if name == "storm-csv":
                    check_series_csv(csv_storm, 300)
                if name == "fanout-ramp":
                    check_ramp(r, csv_ramp, 1000, 1.0, 0.3, 1.5)
                print(f"ok   {name} ({took:.1f} s)")
            except (Failure, subprocess.TimeoutExpired, KeyError, ValueError) as e:
                failures += 1
                print(f"FAIL {name}: {e}")
    usage_cases = [
        ("ramp-without-rate", ["fanout", "--url", "ws://127.0.0.1:1/v1", "--ramp", "1"],
         "--ramp needs --rate"),
        ("echo-ramp-without-rate", ["echo", "--url", "ws://127.0.0.1:1/echo", "--ramp", "1"],
         "--ramp needs --rate"),
        ("symbols-over-topics", ["market", "--url", "ws://127.0.0.1:1/v1", "--topics", "5"],
         "--symbols-per-sub 10: more than the 5 topics"),
    ]
    for name, args, needle in usage_cases:
        if a.only and a.only not in name:
            continue
        try:
            check_usage_error(a.bench, args, needle)
            print(f"ok   {name}")
        except (Failure, subprocess.TimeoutExpired) as e:
            failures += 1
            print(f"FAIL {name}: {e}")
    stop_peers(peers)
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"{failures} failed" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
