#!/usr/bin/python3
"""compare_table.py - turns the runs bench/compare.sh left in OUT_DIR into one
Markdown table per scenario and a table of ratios against the goals of
issue 5 (bench/RESULTS.md). Reads NAME.TARGET.json (wsbroker-bench --json)
and NAME.TARGET.meta.json (exit status, broker CPU) files, and with
REPEAT rounds NAME.TARGET.rN.*: each goal's ratio is then taken in each round
(brokers side by side) and the median over the rounds decides. A round where
wsbroker did not sustain a fixed rate gives no latency ratio (its
percentiles would cover only what it delivered); a peer that did not is not
compared with.

    /usr/bin/python3 bench/compare_table.py OUT_DIR
"""
import glob
import json
import os
import sys

TARGETS = ["wsbroker", "nats", "mqtt", "raw"]


def load(out):
    """{(name, target, round): (report or None, meta)}"""
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
        runs[(meta["name"], meta["target"], meta.get("round", 1))] = (r, meta)
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


def scenario_table(runs, name, rounds):
    rows = [(t, n, *runs[(name, t, n)]) for n in rounds for t in TARGETS if (name, t, n) in runs]
    if not rows:
        return ""
    out = [f"### {name}", "",
           "| target | round | exit | delivered/s | published/s | p50 ms | p99 ms | p99.9 ms"
           " | p99.99 ms | max ms | delivered/due | gaps | faults | errors | broker CPU s |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for t, n, r, meta in rows:
        if r is None:
            out.append(f"| {t} | {n} | {meta['exit']} | no report |" + " |" * 11)
            continue
        lat, d = r["latency_us"], r["delivery"]
        ms = lambda k: fmt(lat[k] / 1000, 2)  # noqa: E731
        out.append(
            f"| {t} | {n} | {meta['exit']} | {fmt(r['delivered_per_s'])}"
            f" | {fmt(r['published_per_s'])}"
            f" | {ms('p50')} | {ms('p99')} | {ms('p99_9')} | {ms('p99_99')} | {ms('max')}"
            f" | {fmt(d['delivered'])}/{fmt(d['due'])} | {d['gap_envelopes']} | {d['faults']}"
            f" | {sum(r['errors'].values())} | {meta['broker_cpu_s']:.2f} |")
    return "\n".join(out) + "\n"


def ratio(a, b):
    return a / b if a is not None and b not in (None, 0) else None


AT_LEAST_3 = (lambda r: r >= 3)          # noqa: E731
AT_MOST_HALF = (lambda r: r <= 0.5)      # noqa: E731
WITHIN_20 = (lambda r: r >= 0.8)         # noqa: E731
P99_WITHIN_20 = (lambda r: r <= 1.2)     # noqa: E731
ABOVE_1 = (lambda r: r > 1)              # noqa: E731


def round_goals(runs, n):
    """The goals as one round measured them: (goal, measured, ratio or None, test)."""
    rows = []

    def get(name, target):
        return runs.get((name, target, n), (None, None))[0]

    for name in ("fanout-closed", "market-closed"):
        w = get(name, "wsbroker")
        for peer in ("nats", "mqtt"):
            p = get(name, peer)
            if w is None or p is None:
                continue
            rows.append((f"{name}: delivered/s >= 3x {peer}",
                         f"{fmt(w['delivered_per_s'])} vs {fmt(p['delivered_per_s'])}",
                         ratio(w["delivered_per_s"], p["delivered_per_s"]), AT_LEAST_3))
    for name in ("fanout-rate", "market-rate"):
        w = get(name, "wsbroker")
        if w is None:
            continue
        ok_peers = [(p, get(name, p)) for p in ("nats", "mqtt") if sustained(get(name, p))]
        if not sustained(w):  # its percentiles would cover only what it delivered
            rows.append((f"{name}: wsbroker sustains the rate", "not sustained", None, None))
            continue
        if not ok_peers:
            rows.append((f"{name}: a peer sustains the rate", "no peer sustained it", None, None))
            continue
        for k, label in (("p99", "p99"), ("p99_9", "p99.9")):
            best_p, best = min(ok_peers, key=lambda pr: pr[1]["latency_us"][k])
            rows.append((f"{name}: wsbroker {label} <= 0.5 x the better peer",
                         f"{w['latency_us'][k] / 1000:.2f} ms vs {best_p}"
                         f" {best['latency_us'][k] / 1000:.2f} ms",
                         ratio(w["latency_us"][k], best["latency_us"][k]), AT_MOST_HALF))
    for mode in ("closed", "rate"):
        no, m = get(f"acks-none-{mode}", "wsbroker"), get(f"acks-manual-{mode}", "wsbroker")
        if no is None or m is None:
            continue
        rows.append((f"acks manual within 20% of acks none ({mode}, delivered/s)",
                     f"{fmt(m['delivered_per_s'])} vs {fmt(no['delivered_per_s'])}",
                     ratio(m["delivered_per_s"], no["delivered_per_s"]), WITHIN_20))
        if mode == "rate":
            rows.append(("acks manual p99 within 20% of acks none (rate)",
                         f"{m['latency_us']['p99'] / 1000:.2f} ms vs"
                         f" {no['latency_us']['p99'] / 1000:.2f} ms",
                         ratio(m["latency_us"]["p99"], no["latency_us"]["p99"]), P99_WITHIN_20))
    raw, w = get("fanout-closed", "raw"), get("fanout-closed", "wsbroker")
    if raw is not None and w is not None:
        rows.append(("the generator is not the bottleneck: it takes in more from"
                     " broadcast_reference than from wsbroker",
                     f"{fmt(raw['delivered_per_s'])} vs {fmt(w['delivered_per_s'])}",
                     ratio(raw["delivered_per_s"], w["delivered_per_s"]), ABOVE_1))
    return rows


def goal_row(rounds, entries, test):
    """One goal over the rounds: the median ratio decides, and the measured
    figures shown are its round's. Of an even count's two middle rounds the
    one that misses the goal decides, if one does: a tie is not a pass. A
    row without a ratio (a rate not sustained) names its rounds."""
    measured = [(n, m, r) for n, m, r in entries if r is not None]
    if not measured:
        text = entries[0][1]
        if len(rounds) > 1:
            which = ", ".join(str(n) for n, _, _ in entries)
            text += f" in round(s) {which} ({len(entries)} of {len(rounds)})"
        return text, "-", False
    ratios = sorted(r for _, _, r in measured)
    middle = (ratios[(len(ratios) - 1) // 2], ratios[len(ratios) // 2])
    med = next((r for r in middle if not test(r)), middle[0])
    n, text, _ = next(e for e in measured if e[2] == med)
    rs = f"{med:.2f}"
    if len(rounds) > 1:
        text += f" (round {n})"
        rs += f" (range {min(ratios):.2f}-{max(ratios):.2f}, {len(ratios)} of {len(rounds)} rounds)"
    return text, rs, test(med)


def goals(runs, rounds):
    by_goal = {}
    for n in rounds:
        for goal, measured, r, test in round_goals(runs, n):
            by_goal.setdefault(goal, (test, []))[1].append((n, measured, r))
    head = "median ratio" if len(rounds) > 1 else "ratio"
    out = ["### Ratios against the goals", "",
           f"| goal | measured | {head} | met |", "|---|---|---|---|"]
    for goal, (test, entries) in by_goal.items():
        measured, rs, met = goal_row(rounds, entries, test or (lambda r: False))
        out.append(f"| {goal} | {measured} | {rs} | {'yes' if met else 'NO'} |")
    return "\n".join(out) + "\n"


def main():
    out = sys.argv[1]
    runs = load(out)
    names = sorted({k[0] for k in runs}, key=lambda n: (n.split("-")[0], n))
    rounds = sorted({k[2] for k in runs})
    env = os.path.join(out, "environment.txt")
    if os.path.exists(env):
        with open(env) as f:
            print("```\n" + f.read().rstrip() + "\n```\n")
    print(goals(runs, rounds))
    for n in names:
        print(scenario_table(runs, n, rounds))


if __name__ == "__main__":
    main()
