#!/usr/bin/env python3
"""Freshness of the live lakehouse: how long from a landing file appearing to every affected
gold table committed, under a steady stream of files (release build).

    python3 benches/freshness.py --scale 1 --seconds 120       # 1 M order lines of history
    python3 benches/freshness.py --scale 10 --seconds 120      # 10 M
    python3 benches/freshness.py --scale 1 --seconds 120 --desk   # one desk order billed a second

It generates the OMS history at --scale, starts `orderlake watch --json` on it (the catch-up
builds everything once), then every --interval seconds drops a file of --rows new order lines
(with their orders, written under a dot-name and renamed into place). Each micro-batch the
watcher reports carries the files it ingested and when its last table was committed; a file's
latency is that commit time minus the moment it was renamed into the landing folder. At the end
it times a full `orderlake build` of the same warehouse, the batch alternative for the same
change, and prints p50/p99 latency, sustained rows/s, and the ratio.

With --desk, instead of files it runs `orderlake desk serve` publishing into the landing folder
and bills one order through the desk's HTTP API every --interval seconds; an order's latency is
the commit of the micro-batch that ingested the first published file showing it billed, minus
the moment the bill call returned. The lake then runs as of today (desk orders are billed now).
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
import urllib.request
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


def stream_file(rng, landing, customers, products, as_of, rows, n, first_order, dropped):
    """Drops an orders file and its order-lines file of about `rows` lines; returns the latter."""
    orders, lines = [], []
    next_order = first_order
    while len(lines) < rows:
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
    lines_name = f"order_lines_{n}.ndjson"
    drop(landing, f"orders_{n}.ndjson", orders)
    dropped[lines_name] = (drop(landing, lines_name, lines), len(lines))
    return lines_name


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Desk:
    """A desk with one customer and one product, served over HTTP, publishing into `landing`."""

    def __init__(self, binary: Path, project: Path, work: Path, landing: Path):
        self.db = work / "desk.db"
        self.binary, self.project = binary, project
        init = self.cli("init", "--name", "bench", token=False)
        self.token = init.strip().splitlines()[-1].strip()
        territory = self.add("territory", "Bench", "--manager-first", "A", "--manager-last", "B")
        self.location = self.add("location", "--region", "West", "--territory", territory,
                                 "--state", "Oyo", "--city", "Ibadan")
        kind = self.add("customer-type", "Bench")
        self.customer = self.add("customer", "Bench Buyer", "--type", kind, "--location",
                                 self.location, "--credit-limit", "100000000")
        self.product = self.add("product", "Bench Rice", "--brand", "Desk", "--category",
                                "Grains", "--price", "25.00", "--cost", "15.00",
                                "--on-hand", "10000000")
        self.addr = f"127.0.0.1:{free_port()}"
        self.server = subprocess.Popen(
            [str(binary), "--project-dir", str(project), "desk", "--db", str(self.db), "serve",
             "--http", self.addr, "--landing", str(landing)],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://{self.addr}/api/health", timeout=2)
                return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("the desk did not start")

    def cli(self, *args, token=True) -> str:
        extra = ["--token", self.token] if token else []
        return subprocess.run(
            [str(self.binary), "--project-dir", str(self.project), "desk", "--db", str(self.db),
             *extra, *args], check=True, capture_output=True, text=True).stdout

    def add(self, *args) -> str:
        return self.cli("add", *args).split()[-1]

    def call(self, path: str, body: dict):
        request = urllib.request.Request(
            f"http://{self.addr}{path}", data=json.dumps(body).encode(), method="POST",
            headers={"Authorization": f"Bearer {self.token}",
                     "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")

    def raise_and_bill(self) -> int:
        order = self.call("/api/orders", {
            "customer_id": int(self.customer), "location_id": int(self.location),
            "lines": [{"product_id": int(self.product), "quantity": 2}]})["id"]
        self.call(f"/api/orders/{order}/bill", {})
        return order

    def stop(self):
        self.server.terminate()
        self.server.wait()


def billed_in(path: Path) -> set:
    """Order ids a published desk orders file shows as billed."""
    found = set()
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                if row.get("status") == "billed":
                    found.add(int(row["order_id"]))
    except (OSError, ValueError, KeyError):
        pass
    return found


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
    parser.add_argument("--desk", action="store_true",
                        help="bill one desk order per interval instead of dropping files")
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
    if args.desk:
        as_of = None
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
    billed = {}  # desk order id -> time its bill call returned
    desk = Desk(binary, project, work, landing) if args.desk else None
    next_order = 50_000_000
    t_end = time.time() + args.seconds
    n = 0
    last_file = None
    if desk:
        print(f"== billing one desk order every {args.interval} s for {args.seconds} s",
              flush=True)
    else:
        print(f"== streaming a {args.rows}-line file every {args.interval} s for "
              f"{args.seconds} s", flush=True)
    results = []
    stream_started = time.time()
    while time.time() < t_end:
        tick = time.time()
        n += 1
        if desk:
            order = desk.raise_and_bill()
            billed[order] = time.time()
        else:
            last_file = stream_file(rng, landing, customers, products, as_of, args.rows,
                                    9_000_000 + n, next_order, dropped)
            next_order += args.rows
        # Collect whatever cycles finished meanwhile.
        while True:
            try:
                results.append(cycles.get_nowait())
            except queue.Empty:
                break
        time.sleep(max(0.0, args.interval - (time.time() - tick)))

    # Wait for the last file (or every billed order) to be committed.
    def desk_latencies():
        found = {}
        for c in results:
            committed = datetime.fromisoformat(
                c["committed_at"].replace("Z", "+00:00")).timestamp()
            for f in c["files"]:
                if f.startswith("orders_") and f not in dropped:
                    for order in billed_in(landing / f):
                        if order in billed and order not in found:
                            found[order] = committed - billed[order]
        return found

    deadline = time.time() + 600
    while time.time() < deadline:
        seen = {f for c in results for f in c["files"]}
        if (desk and len(desk_latencies()) == len(billed)) or (not desk and last_file in seen):
            break
        try:
            results.append(cycles.get(timeout=5))
        except queue.Empty:
            pass
    stream_seconds = time.time() - stream_started
    if desk:
        desk.stop()
    watch.terminate()
    watch.wait()

    latencies = []
    rows = 0
    failed = sum(bool(c["failed"]) for c in results)
    refresh = [c["refresh_seconds"] for c in results]
    if desk:
        latencies = list(desk_latencies().values())
        print(f"== {len(latencies)} of {len(billed)} billed desk orders in {len(results)} "
              f"micro-batches ({failed} failed)")
        print(f"   bill call returns -> gold committed: p50 {percentile(latencies, 50):.2f} s, "
              f"p99 {percentile(latencies, 99):.2f} s, "
              f"max {max(latencies, default=float('nan')):.2f} s")
    else:
        for c in results:
            committed = datetime.fromisoformat(
                c["committed_at"].replace("Z", "+00:00")).timestamp()
            for f in c["files"]:
                if f in dropped:
                    latencies.append(committed - dropped[f][0])
                    rows += dropped[f][1]
        print(f"== {len(latencies)} files in {len(results)} micro-batches ({failed} failed)")
        print(f"   file appears -> gold committed: p50 {percentile(latencies, 50):.2f} s, "
              f"p99 {percentile(latencies, 99):.2f} s, "
              f"max {max(latencies, default=float('nan')):.2f} s")
        print(f"   sustained: {rows / stream_seconds:,.0f} order lines/s through to gold")
    print(f"   refresh per micro-batch: median "
          f"{statistics.median(refresh) if refresh else float('nan'):.2f} s")
    problems = {p for c in results for p in c.get("problems", [])}
    for p in sorted(problems)[:5]:
        print(f"   problem: {p[:300]}")

    print("== `orderlake build --full-refresh` of the same warehouse (recomputing everything)",
          flush=True)
    started = time.time()
    subprocess.run([str(binary), "--project-dir", str(project), *vars_arg, "build",
                    "--full-refresh"], check=False, stdout=subprocess.DEVNULL)
    full = time.time() - started
    p50 = percentile(latencies, 50)
    print(f"   {full:.2f} s; watch p50 / full build = {p50 / full:.2f}")
    if not args.keep:
        subprocess.run(["rm", "-rf", str(work)])
    else:
        print(f"   kept {work}")


if __name__ == "__main__":
    sys.exit(main())
