#!/usr/bin/python3
"""compare_table.py - turns the runs bench/compare.sh left in OUT_DIR into one
Markdown table per scenario and a table of ratios against the goals of
issue 5 (bench/RESULTS.md). Reads NAME.TARGET.json (wsbroker-bench --json)
and NAME.TARGET.meta.json (exit status, broker CPU) files.

    /usr/bin/python3 bench/compare_table.py OUT_DIR
"""
import glob
import json
import os
import sys

TARGETS = ["wsbroker", "nats", "mqtt", "raw"]


def load(out):
    runs = {}
    for path in glob.glob(os.path.join(out, "*.meta.json")):
        with open(path) as f:
            meta = json.load(f)
        report = path[: -len(".meta.json")] + ".json"
        r = None
        try:
            with open(report) as f:
                lines = [ln for ln in f if ln.startswith("{")]
            r = json.loads(lines[-1]) if lines else None
        except (OSError, ValueError):
            pass
        runs[(meta["name"], meta["target"])] = (r, meta)
    return runs


def fmt(v, digits=0):
    if v is None:
        return "-"
    if isinstance(v, float) and digits:
        return f"{v:,.{digits}f}"
    return f"{v:,.0f}"


def sustained(r):
    """Kept up with a fixed rate: everything due arrived, no fault, no error,
    and deliveries in the window came at (97% of) the rate they were due,
    not only in the drain afterwards."""
    if r is None:
        return False
    d = r["delivery"]
    due_per_s = d["due"] / (r["duration_s"] + r["warmup_s"])
    return (d["delivered"] == d["due"] and d["faults"] == 0
            and sum(r["errors"].values()) == 0
            and r["delivered_per_s"] >= 0.97 * due_per_s)


def scenario_table(runs, name):
    rows = [(t, *runs[(name, t)]) for t in TARGETS if (name, t) in runs]
    if not rows:
        return ""
    out = [f"### {name}", "",
           "| target | exit | delivered/s | published/s | p50 ms | p99 ms | p99.9 ms | p99.99 ms"
           " | max ms | delivered/due | gaps | faults | errors | broker CPU s |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for t, r, meta in rows:
        if r is None:
            out.append(f"| {t} | {meta['exit']} | no report |" + " |" * 11)
            continue
        lat, d = r["latency_us"], r["delivery"]
        ms = lambda k: fmt(lat[k] / 1000, 2)  # noqa: E731
        out.append(
            f"| {t} | {meta['exit']} | {fmt(r['delivered_per_s'])} | {fmt(r['published_per_s'])}"
            f" | {ms('p50')} | {ms('p99')} | {ms('p99_9')} | {ms('p99_99')} | {ms('max')}"
            f" | {fmt(d['delivered'])}/{fmt(d['due'])} | {d['gap_envelopes']} | {d['faults']}"
            f" | {sum(r['errors'].values())} | {meta['broker_cpu_s']:.2f} |")
    return "\n".join(out) + "\n"


def get(runs, name, target):
    return runs.get((name, target), (None, None))[0]


def ratio(a, b):
    return a / b if a is not None and b not in (None, 0) else None


def goals(runs):
    out = ["### Ratios against the goals", "",
           "| goal | measured | ratio | met |", "|---|---|---|---|"]

    def row(goal, measured, r, met):
        rs = "-" if r is None else f"{r:.2f}"
        out.append(f"| {goal} | {measured} | {rs} | {'yes' if met else 'NO'} |")

    for name in ("fanout-closed", "market-closed"):
        w = get(runs, name, "wsbroker")
        for peer in ("nats", "mqtt"):
            p = get(runs, name, peer)
            if w is None or p is None:
                continue
            r = ratio(w["delivered_per_s"], p["delivered_per_s"])
            row(f"{name}: delivered/s >= 3x {peer}",
                f"{fmt(w['delivered_per_s'])} vs {fmt(p['delivered_per_s'])}",
                r, r is not None and r >= 3)
    for name in ("fanout-rate", "market-rate"):
        w = get(runs, name, "wsbroker")
        peers = [(p, get(runs, name, p)) for p in ("nats", "mqtt")]
        ok_peers = [(p, r) for p, r in peers if sustained(r)]
        if w is None:
            continue
        if not sustained(w):
            row(f"{name}: wsbroker sustains the rate", "not sustained", None, False)
        if not ok_peers:
            row(f"{name}: a peer sustains the rate", "no peer sustained it", None, False)
            continue
        for k, label in (("p99", "p99"), ("p99_9", "p99.9")):
            best_p, best = min(ok_peers, key=lambda pr: pr[1]["latency_us"][k])
            r = ratio(w["latency_us"][k], best["latency_us"][k])
            row(f"{name}: wsbroker {label} <= 0.5 x the better peer ({best_p})",
                f"{w['latency_us'][k] / 1000:.2f} ms vs {best['latency_us'][k] / 1000:.2f} ms",
                r, r is not None and r <= 0.5)
    for mode in ("closed", "rate"):
        n, m = get(runs, f"acks-none-{mode}", "wsbroker"), get(runs, f"acks-manual-{mode}", "wsbroker")
        if n is None or m is None:
            continue
        r = ratio(m["delivered_per_s"], n["delivered_per_s"])
        row(f"acks manual within 20% of acks none ({mode}, delivered/s)",
            f"{fmt(m['delivered_per_s'])} vs {fmt(n['delivered_per_s'])}",
            r, r is not None and r >= 0.8)
        if mode == "rate":
            r = ratio(m["latency_us"]["p99"], n["latency_us"]["p99"])
            row("acks manual p99 within 20% of acks none (rate)",
                f"{m['latency_us']['p99'] / 1000:.2f} ms vs {n['latency_us']['p99'] / 1000:.2f} ms",
                r, r is not None and r <= 1.2)
    raw, w = get(runs, "fanout-closed", "raw"), get(runs, "fanout-closed", "wsbroker")
    if raw is not None and w is not None:
        r = ratio(raw["delivered_per_s"], w["delivered_per_s"])
        row("the generator is not the bottleneck: it takes in more from broadcast_reference"
            " than from wsbroker", f"{fmt(raw['delivered_per_s'])} vs {fmt(w['delivered_per_s'])}",
            r, r is not None and r > 1)
    return "\n".join(out) + "\n"


def main():
    out = sys.argv[1]
    runs = load(out)
    names = sorted({n for n, _ in runs}, key=lambda n: (n.split("-")[0], n))
    env = os.path.join(out, "environment.txt")
    if os.path.exists(env):
        with open(env) as f:
            print("```\n" + f.read().rstrip() + "\n```\n")
    print(goals(runs))
    for n in names:
        print(scenario_table(runs, n))


if __name__ == "__main__":
    main()
