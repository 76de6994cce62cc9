#!/usr/bin/env python3
"""Freshness of the live lakehouse: how long from a landing file appearing to every affected
gold table committed, under a steady stream of files (release build).

    python3 benches/freshness.py --scale 1 --seconds 120       # 1 M order lines of history
    python3 benches/freshness.py --scale 10 --seconds 120      # 10 M

It generates the OMS history at --scale, starts `orderlake watch --json` on it (the catch-up
builds everything once), then every --interval seconds drops a file of --rows new order lines
(with their orders, written under a dot-name and renamed into place). Each micro-batch the
watcher reports carries the files it ingested and when its last table was committed; a file's
latency is that commit time minus the moment it was renamed into the landing folder. At the end
it times a full `orderlake build` of the same warehouse, the batch alternative for the same
change, and prints p50/p99 latency, sustained rows/s, and the ratio.
"""

import argparse
import csv
import json
import os
import queue
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build_binary() -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/orderlake/target"))
    subprocess.run(
        ["cargo", "build", "--release", "-p", "orderlake", "--locked", "-q"],
        cwd=ROOT,
        check=True,
        env={**os.environ, "CARGO_TARGET_DIR": str(target)},
    )
    return target / "release" / "orderlake"


def read_csv(path: Path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def drop(landing: Path, name: str, lines: list) -> float:
    hidden = landing / f".{name}"
    with open(hidden, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line))
            f.write("\n")
    os.rename(hidden, landing / name)
    return time.time()


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="history, millions of order lines")
    parser.add_argument("--seconds", type=float, default=120.0, help="how long to stream files")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between files")
    parser.add_argument("--rows", type=int, default=10_000, help="order lines per file")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()

    binary = build_binary()
    work = Path(tempfile.mkdtemp(prefix="orderlake-freshness-"))
    project = work / "project"
    landing = work / "landing"
    subprocess.run(["cp", "-r", str(ROOT / "projects/oms"), str(project)], check=True)
    print(f"== generate --scale {args.scale} into {landing}", flush=True)
    started = time.time()
    subprocess.run(
        [str(binary), "--project-dir", str(project), "generate", "--out", str(landing),
         "--scale", str(args.scale)],
        check=True, stdout=subprocess.DEVNULL,
    )
    print(f"   {time.time() - started:.1f} s", flush=True)
    generated = json.loads((landing / "_generated.json").read_text())
    as_of = generated.get("as_of_date")
    vars_arg = ["--vars", f"{{as_of_date: '{as_of}'}}"] if as_of else []
    customers = read_csv(landing / "customers.csv")
    products = read_csv(landing / "products.csv")

    print("== watch: catch-up (ingest + full build)", flush=True)
    watch = subprocess.Popen(
        [str(binary), "--project-dir", str(project), *vars_arg, "watch", "--landing",
         str(landing), "--json"],
        stdout=subprocess.PIPE, text=True,
    )
    cycles: "queue.Queue[dict]" = queue.Queue()

    def reader():
        for line in watch.stdout:
            try:
                cycles.put(json.loads(line))
            except json.JSONDecodeError:
                pass

    threading.Thread(target=reader, daemon=True).start()
    started = time.time()
    first = cycles.get(timeout=3600)
    catch_up = time.time() - started
    print(f"   {catch_up:.1f} s (ingest {first['ingest_seconds']:.1f} s, refresh "
          f"{first['refresh_seconds']:.1f} s, failed: {first['failed']})", flush=True)

    rng = random.Random(7)
    dropped = {}  # file name -> (time renamed into place, rows)
    next_order = 50_000_000
    t_end = time.time() + args.seconds
    n = 0
    print(f"== streaming a {args.rows}-line file every {args.interval} s for {args.seconds} s",
          flush=True)
    results = []
    stream_started = time.time()
    while time.time() < t_end:
        tick = time.time()
        n += 1
        orders, lines = [], []
        while len(lines) < args.rows:
            next_order += 1
            c = rng.choice(customers)
            stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
            when = as_of + " 10:00:00" if as_of else stamp
            orders.append({
                "order_id": next_order, "customer_id": int(c["customer_id"]),
                "location_id": int(c["location_id"]), "channel": "web", "source_system": "erp",
                "ordered_at": when, "status": "billed", "hold_reason": None,
                "cancel_reason": None, "billed_at": when, "updated_at": when,
            })
            for line_no in range(1, rng.randint(1, 5) + 1):
                p = rng.choice(products)
                lines.append({
                    "order_id": next_order, "line_no": line_no,
                    "product_id": int(p["product_id"]), "quantity": rng.randint(1, 6),
                    "unit_price": p["unit_price"], "discount_amount": "0.00",
                    "updated_at": when,
                })
        orders_name = f"orders_{9_000_000 + n}.ndjson"
        lines_name = f"order_lines_{9_000_000 + n}.ndjson"
        drop(landing, orders_name, orders)
        at = drop(landing, lines_name, lines)
        dropped[lines_name] = (at, len(lines))
        # Collect whatever cycles finished meanwhile.
        while True:
            try:
                results.append(cycles.get_nowait())
            except queue.Empty:
                break
        time.sleep(max(0.0, args.interval - (time.time() - tick)))
    # Wait for the last file to be committed.
    deadline = time.time() + 600
    seen = {f for c in results for f in c["files"]}
    while lines_name not in seen and time.time() < deadline:
        try:
            c = cycles.get(timeout=5)
            results.append(c)
            seen.update(c["files"])
        except queue.Empty:
            pass
    stream_seconds = time.time() - stream_started
    watch.terminate()
    watch.wait()

    latencies = []
    rows = 0
    failed = 0
    refresh = []
    for c in results:
        committed = datetime.fromisoformat(c["committed_at"].replace("Z", "+00:00")).timestamp()
        failed += bool(c["failed"])
        refresh.append(c["refresh_seconds"])
        for f in c["files"]:
            if f in dropped:
                latencies.append(committed - dropped[f][0])
                rows += dropped[f][1]
    print(f"== {len(latencies)} files in {len(results)} micro-batches ({failed} failed)")
    print(f"   file appears -> gold committed: p50 {percentile(latencies, 50):.2f} s, "
          f"p99 {percentile(latencies, 99):.2f} s, max {max(latencies, default=float('nan')):.2f} s")
    print(f"   refresh per micro-batch: median {statistics.median(refresh) if refresh else float('nan'):.2f} s")
    print(f"   sustained: {rows / stream_seconds:,.0f} order lines/s through to gold")

    print("== full `orderlake build` of the same warehouse (the batch alternative)", flush=True)
    started = time.time()
    subprocess.run([str(binary), "--project-dir", str(project), *vars_arg, "build"],
                   check=False, stdout=subprocess.DEVNULL)
    full = time.time() - started
    p50 = percentile(latencies, 50)
    print(f"   {full:.2f} s; watch p50 / full build = {p50 / full:.2f}")
    if not args.keep:
        subprocess.run(["rm", "-rf", str(work)])
    else:
        print(f"   kept {work}")


if __name__ == "__main__":
    sys.exit(main())
