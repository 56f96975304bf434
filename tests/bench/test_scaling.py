#!/usr/bin/python3
"""Runs bench/scaling.sh for 1 and 2 workers (about a second each, 100
subscribers at 2000 publishes/s, so that a loaded CI machine drops nothing;
real brokers on 127.0.0.1:0) and checks what it writes: one row
per run in runs.csv with exit 0, deliveries and no gaps; the median table and
scaling.csv with a row per worker count, speedup 1 at the first; and, when
gnuplot is installed, a PNG. Bad settings must be refused with a message
that names them, before any broker starts.

    /usr/bin/python3 tests/bench/test_scaling.py BUILD_DIR

Bounded: each scaling.sh call has a timeout."""

import csv
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCRIPT = os.path.join(ROOT, "bench", "scaling.sh")
TIMEOUT_S = 90


def run(build, out, **env):
    e = dict(os.environ, DURATION="1", WARMUP="0.3", SUBSCRIBERS="100", BENCH_THREADS="1",
             INFLIGHT="256", RATE="2000")
    e.update(env)
    return subprocess.run(["bash", SCRIPT, build, out], env=e, capture_output=True, text=True,
                          timeout=TIMEOUT_S)


def fail(what, p=None):
    extra = f"\nstdout: {p.stdout}\nstderr: {p.stderr}" if p else ""
    print(f"FAIL: {what}{extra}")
    sys.exit(1)


def main():
    build = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix="wsb-scaling-")
    try:
        out = os.path.join(tmp, "ok")
        p = run(build, out, WORKERS="1 2")
        if p.returncode != 0:
            fail(f"scaling.sh exited {p.returncode}", p)
        runs = list(csv.DictReader(open(os.path.join(out, "runs.csv"))))
        if [r["workers"] for r in runs] != ["1", "2"]:
            fail(f"runs.csv rows: {runs}")
        for r in runs:
            if r["exit"] != "0" or float(r["delivered_per_s"]) <= 0 or r["gaps"] != "0":
                fail(f"run {r}")
            if float(r["broker_cpu_s"]) <= 0:
                fail(f"no broker CPU measured: {r}")
        rows = list(csv.DictReader(open(os.path.join(out, "scaling.csv"))))
        if [r["workers"] for r in rows] != ["1", "2"] or float(rows[0]["speedup"]) != 1.0:
            fail(f"scaling.csv: {rows}")
        if float(rows[1]["linear_per_s"]) != 2 * float(rows[0]["delivered_per_s"]):
            fail(f"the linear line is not 2x the first point: {rows}")
        table = open(os.path.join(out, "table.md")).read()
        if "| 1 |" not in table or "| 2 |" not in table or table != p.stdout:
            fail(f"table.md / stdout:\n{table}\n---\n{p.stdout}")
        if shutil.which("gnuplot") and os.path.getsize(os.path.join(out, "scaling.png")) < 1000:
            fail("scaling.png missing or empty")

        cpus = os.cpu_count() or 1
        for env, want in ((dict(WORKERS="0"), "WORKERS must list positive integers"),
                          (dict(WORKERS=str(cpus + 1)), f"over this machine's {cpus} CPUs"),
                          (dict(WORKERS="1", SCENARIO="echo"), "SCENARIO must be fanout or market"),
                          (dict(WORKERS="1", REPEAT="x"), "REPEAT must be a positive integer"),
                          (dict(WORKERS="1", RATE="-1"), "RATE must be a whole number")):
            bad = os.path.join(tmp, "bad")
            p = run(build, bad, **env)
            if p.returncode == 0 or want not in p.stderr:
                fail(f"{env}: exit {p.returncode}, want '{want}' on stderr", p)
            if os.path.exists(os.path.join(bad, "runs.csv")):
                fail(f"{env}: a run started before the settings were checked")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("scaling.sh: 1 and 2 workers measured and plotted; bad settings refused")


if __name__ == "__main__":
    main()
