"""50 concurrent SQL clients running gold queries against `orderlake serve` for 30 seconds.

Usage: pg_clients.py HOST PORT USER PASSWORD DBNAME [CLIENTS] [SECONDS] [SLOW]
Each client holds its own connection and loops over a mix of dashboard-style gold queries
(psycopg, extended protocol). With SLOW=1 one more client runs a heavy query (a distinct
count over an 8-million-row cross join) over and over, to show whether it holds the others
up. Prints queries/s, p50/p90/p99 latency and the error count, and exits non-zero if any
query failed. Loopback only; bounded in time.
"""

import statistics
import sys
import threading
import time

import psycopg

host, port, user, password, dbname = sys.argv[1:6]
clients = int(sys.argv[6]) if len(sys.argv) > 6 else 50
seconds = float(sys.argv[7]) if len(sys.argv) > 7 else 30.0
slow = len(sys.argv) > 8 and sys.argv[8] == "1"
SLOW_QUERY = (
    "select count(distinct a.customer_id * 1000000 + b.customer_id * 1000 + c.customer_id) "
    "from gold.customer_metrics a, gold.customer_metrics b, gold.customer_metrics c"
)
slow_latencies = []
dsn = f"host={host} port={port} user={user} password={password} dbname={dbname}"

QUERIES = [
    ("select grain, sum(net_revenue) from gold.sales_summary group by grain", ()),
    ("select segment, count(*), sum(monetary) from gold.customer_segmentation group by segment order by 3 desc", ()),
    ("select * from gold.product_performance order by revenue_rank limit 10", ()),
    ("select region, sum(net_revenue) from gold.regional_sales where month >= %s group by region", ("2024-03-01",)),
    ("select carrier_name, sum(on_time) * 1.0 / nullif(sum(delivered), 0) from gold.shipment_sla group by 1", ()),
    ("select customer_name, balance from gold.credit_aging order by balance desc limit 20", ()),
    ("select m.customer_name, m.clv, s.segment from gold.customer_metrics m join gold.customer_segmentation s on s.customer_id = m.customer_id where m.clv > %s order by m.clv desc limit 25", (10000,)),
]

latencies = []
errors = []
lock = threading.Lock()
start_barrier = threading.Barrier(clients)


def client(n):
    mine = []
    try:
        conn = psycopg.connect(dsn, autocommit=True)
    except Exception as e:  # noqa: BLE001 - counted and reported
        with lock:
            errors.append(f"client {n}: connect: {e}")
        start_barrier.abort()
        return
    start_barrier.wait()
    deadline = time.monotonic() + seconds
    i = n
    while time.monotonic() < deadline:
        sql, params = QUERIES[i % len(QUERIES)]
        i += 1
        t0 = time.perf_counter()
        try:
            conn.execute(sql, params).fetchall()
        except Exception as e:  # noqa: BLE001 - counted and reported
            with lock:
                errors.append(f"client {n}: {sql[:40]}: {e}")
            continue
        mine.append(time.perf_counter() - t0)
    conn.close()
    with lock:
        latencies.extend(mine)


def slow_client():
    conn = psycopg.connect(dsn, autocommit=True)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        t0 = time.perf_counter()
        try:
            conn.execute(SLOW_QUERY).fetchall()
        except Exception as e:  # noqa: BLE001 - counted and reported
            with lock:
                errors.append(f"slow client: {e}")
            break
        slow_latencies.append(time.perf_counter() - t0)
    conn.close()


threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
if slow:
    threads.append(threading.Thread(target=slow_client))
t0 = time.monotonic()
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.monotonic() - t0
latencies.sort()


def pct(p):
    return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000 if latencies else float("nan")


print(f"clients={clients} seconds={seconds:.0f} queries={len(latencies)} errors={len(errors)} "
      f"qps={len(latencies) / elapsed:.1f} p50={pct(50):.1f}ms p90={pct(90):.1f}ms p99={pct(99):.1f}ms "
      f"mean={statistics.fmean(latencies) * 1000 if latencies else float('nan'):.1f}ms")
if slow:
    print(f"slow client: {len(slow_latencies)} heavy queries, "
          f"mean {statistics.fmean(slow_latencies) if slow_latencies else float('nan'):.2f}s each")
for e in errors[:5]:
    print("error:", e)
sys.exit(1 if errors or not latencies else 0)
