#!/usr/bin/env python3
"""The commerce project on an Olist export of the full dataset's size: the real subset in
../shared/data/olist (about 4,000 orders) repeated with fresh order, customer and person ids until
it has --orders orders (default 100,000, the public dataset's ~99k), then `orderlake ingest` and
`orderlake build` timed, with peak memory.

    python3 benches/olist_scale.py [--orders 100000] [--bin path/to/orderlake] [--olist DIR]
"""
import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
# Files whose rows are per order (copied with new ids) and those kept as they are.
PER_ORDER = {
    "olist_orders_dataset.csv": ["order_id", "customer_id"],
    "olist_order_items_dataset.csv": ["order_id"],
    "olist_order_payments_dataset.csv": ["order_id"],
    "olist_customers_dataset.csv": ["customer_id", "customer_unique_id"],
}


def scale(src, dst, copies):
    os.makedirs(dst)
    for name in os.listdir(src):
        if not name.endswith(".csv"):
            continue
        if name not in PER_ORDER:
            shutil.copy(os.path.join(src, name), dst)
            continue
        with open(os.path.join(src, name), newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        header, body = rows[0], rows[1:]
        keys = [header.index(c) for c in PER_ORDER[name]]
        with open(os.path.join(dst, name), "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f, lineterminator="\n")
            out.writerow(header)
            for k in range(copies):
                for row in body:
                    row = list(row)
                    for i in keys:
                        # Same length as a real id: the copy number replaces the last 3 digits.
                        row[i] = row[i][:-3] + f"{k:03x}" if k else row[i]
                    out.writerow(row)


def timed(cmd):
    started = time.time()
    out = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    peak_kb = int(out.stderr.strip().splitlines()[-1])
    return time.time() - started, peak_kb // 1024


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--bin")
    parser.add_argument("--olist", default=os.path.join(REPO, "..", "shared", "data", "olist"))
    args = parser.parse_args()
    sys.path.insert(0, HERE)
    import compat
    binary = compat.orderlake_bin(args.bin)
    with open(os.path.join(args.olist, "olist_orders_dataset.csv"), encoding="utf-8") as f:
        subset = sum(1 for _ in f) - 1
    copies = max(1, -(-args.orders // subset))
    work = tempfile.mkdtemp(prefix="olist-scale-")
    landing = os.path.join(work, "landing")
    scale(args.olist, landing, copies)
    project = os.path.join(work, "commerce")
    shutil.copytree(os.path.join(REPO, "projects", "commerce"), project,
                    ignore=shutil.ignore_patterns("target", "warehouse"))
    print(f"== Olist shape, {copies * subset} orders ({copies} copies of the subset)")
    seconds, peak = timed([binary, "--project-dir", project, "ingest", "--landing", landing])
    print(f"   ingest: {seconds:.2f} s, {peak} MB peak")
    seconds, peak = timed([binary, "--project-dir", project, "build"])
    print(f"   build:  {seconds:.2f} s, {peak} MB peak")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
