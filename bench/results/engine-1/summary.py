#!/usr/bin/python3
"""Prints the before/after table of bench/results/engine-1/run.sh's runs
(old = epoll loops, new = io_uring loops), one row per run, alternating.

    /usr/bin/python3 bench/results/engine-1/summary.py bench/results/engine-1"""
import glob
import json
import os
import sys

d = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
print("| run | engine | delivered/s | published/s | subscriber CPU % | deliveries per sub CPU-s | "
      "p50 ms | p99 ms | gaps |")
print("|---|---|---|---|---|---|---|---|---|")
for kind in ("raw", "raw-rate", "wsbroker"):
    for r in sorted({f.split(".")[-2] for f in glob.glob(f"{d}/{kind}.*.json")}):
        for eng in ("old", "new"):
            with open(f"{d}/{kind}.{eng}.{r}.json") as f:
                j = json.load(f)
            cpu = j["sub_cpu_pct"]
            per_cpu = j["delivered_per_s"] / (cpu / 100) if cpu > 0 else 0
            lat = j["latency_us"]
            print(f"| {kind} #{r} | {'epoll' if eng == 'old' else 'io_uring'} | "
                  f"{j['delivered_per_s']:,.0f} | {j['published_per_s']:,.0f} | {cpu:.1f} | "
                  f"{per_cpu:,.0f} | {lat['p50'] / 1000:.2f} | {lat['p99'] / 1000:.2f} | "
                  f"{j['delivery']['gap_envelopes']} |")
