#!/usr/bin/env python3
"""TPC-H on orderlake in one process and on a loopback Apache Ballista cluster (a scheduler and
two executors started here with `orderlake cluster …`), side by side in one run:

- the benches/tpch dbt project (staging views over the Parquet files, the wide fact table, the
  TPC-H queries and aggregates as Delta tables) built with and without `--engine ballista://…`;
- TPC-H Q1, Q6 and a grouped revenue aggregation as ad-hoc `orderlake sql` queries over lineitem.

Prints each time and the cluster/single ratio; checks that every mart has the same rows both ways.

    python3 benches/cluster.py [--scale 10] [--runs 1] [--bin path/to/orderlake]
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat  # noqa: E402  (re-runs this script in the dbt-duckdb venv, which has tpchgen-cli)
import tpch  # noqa: E402

QUERIES = {
    "q1 pricing summary": """
        select l_returnflag, l_linestatus, sum(l_quantity) as sum_qty,
               sum(l_extendedprice * (1 - l_discount)) as sum_disc_price,
               avg(l_discount) as avg_disc, count(*) as count_order
        from read_parquet('{data}/lineitem.parquet')
        where l_shipdate <= date '1998-09-02'
        group by 1, 2 order by 1, 2""",
    "q6 forecast revenue": """
        select sum(l_extendedprice * l_discount) as revenue
        from read_parquet('{data}/lineitem.parquet')
        where l_shipdate >= date '1994-01-01' and l_shipdate < date '1995-01-01'
          and l_discount between 0.05 and 0.07 and l_quantity < 24""",
    "revenue by supplier": """
        select l_suppkey, sum(l_extendedprice * (1 - l_discount)) as revenue, count(*) as lines
        from read_parquet('{data}/lineitem.parquet')
        group by 1 order by 2 desc limit 10""",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port, proc, log):
    deadline = time.time() + 60
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise SystemExit(f"no node on port {port}:\n{open(log).read()[-4000:]}")


def start_cluster(binary, work, executors=2):
    procs = []
    port = free_port()
    log = os.path.join(work, "scheduler.log")
    procs.append(subprocess.Popen([binary, "cluster", "scheduler", "--bind", f"127.0.0.1:{port}"],
                                  stdout=subprocess.DEVNULL, stderr=open(log, "w")))
    wait_for(port, procs[-1], log)
    for i in range(executors):
        flight, grpc = free_port(), free_port()
        log = os.path.join(work, f"executor-{i}.log")
        wd = os.path.join(work, f"executor-{i}")
        os.makedirs(wd)
        procs.append(subprocess.Popen(
            [binary, "cluster", "executor", "--scheduler", f"127.0.0.1:{port}", "--port", str(flight),
             "--grpc-port", str(grpc), "--vcores", "2", "--work-dir", wd],
            stdout=subprocess.DEVNULL, stderr=open(log, "w")))
        wait_for(flight, procs[-1], log)
    return f"ballista://127.0.0.1:{port}", procs


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", default="10")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--bin")
    args = parser.parse_args()
    binary = compat.orderlake_bin(args.bin)
    data = tpch.data_dir(args.scale, compat.dbt_bin_dir())
    work = tempfile.mkdtemp(prefix="cluster-bench-")
    project = os.path.join(work, "tpch")
    tpch.copy_project(project, data)
    engine, procs = start_cluster(binary, work)
    times = {}
    try:
        for run in range(args.runs):
            for name, extra in (("single", []), ("cluster", ["--engine", engine])):
                wh = os.path.join(work, f"wh-{name}")
                shutil.rmtree(wh, ignore_errors=True)
                t = tpch.timed([binary, "build", "--warehouse", wh, *extra], project)
                times.setdefault(("build", name), []).append(t)
                print(f"   run {run + 1}: build {name} {t:.2f} s", flush=True)
            for title, sql in QUERIES.items():
                for name, extra in (("single", []), ("cluster", ["--engine", engine])):
                    q = " ".join(sql.format(data=data).split())
                    t = tpch.timed([binary, "sql", "--warehouse", os.path.join(work, "wh-single"),
                                    *extra, q], project)
                    times.setdefault((title, name), []).append(t)
                    print(f"   run {run + 1}: {title} {name} {t:.2f} s", flush=True)

        failed = 0
        manifest = json.load(open(os.path.join(project, "target", "manifest.json")))
        for node in sorted(manifest["nodes"].values(), key=lambda n: n["name"]):
            if node["resource_type"] != "model" or node["config"].get("materialized") != "table":
                continue
            name = node["alias"]
            q = (f'select count(*) as n, sum(net_revenue) as s from "main"."{name}"'
                 if name == "fct_order_lines" else f'select * from "main"."{name}"')
            rows = {}
            for side in ("single", "cluster"):
                out = subprocess.run([binary, "sql", "--format", "json", "--warehouse",
                                      os.path.join(work, f"wh-{side}"), q], cwd=project,
                                     capture_output=True, text=True, check=True)
                rows[side] = sorted(json.dumps({k: compat.norm(v) for k, v in r.items()},
                                               sort_keys=True) for r in json.loads(out.stdout or "[]"))
            same = rows["single"] == rows["cluster"]
            failed += not same
            print(f"   {'ok  ' if same else 'DIFF'} {name}: {len(rows['single'])} rows")
    finally:
        for p in procs:
            p.kill()
            p.wait()
    print(f"== TPC-H SF{args.scale}, median of {args.runs}; cluster = scheduler + 2 executors "
          f"(2 vcores each) on this {os.cpu_count()}-core machine")
    for what in ["build", *QUERIES]:
        single = statistics.median(times[(what, "single")])
        cluster = statistics.median(times[(what, "cluster")])
        print(f"   {what:24} single {single:7.2f} s   cluster {cluster:7.2f} s   "
              f"cluster/single {cluster / single:.2f}x")
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
