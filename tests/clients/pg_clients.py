"""Real PostgreSQL clients against `orderlake serve`: psycopg (extended protocol, server-side
parameters), SQLAlchemy reflection, pandas.read_sql, a refused DROP and a wrong password.

Usage: pg_clients.py HOST PORT USER PASSWORD DBNAME
Prints one line per check and exits non-zero on the first failure.
"""

import sys

import pandas as pd
import psycopg
import sqlalchemy as sa

host, port, user, password, dbname = sys.argv[1:6]
dsn = f"host={host} port={port} user={user} password={password} dbname={dbname}"


def check(name, ok, detail=""):
    print(f"{'ok' if ok else 'FAIL'}: {name} {detail}".rstrip())
    if not ok:
        sys.exit(1)


with psycopg.connect(dsn, autocommit=True) as conn:
    row = conn.execute("select version()").fetchone()
    check("psycopg version()", row[0].startswith("PostgreSQL 15"), row[0])
    # Server-side binding: $1 goes as a typed parameter over the extended protocol.
    rows = conn.execute(
        "select segment, count(*) as n from gold.customer_segmentation where segment = %s group by segment",
        ("Champions",),
    ).fetchall()
    check("psycopg parameter", len(rows) == 1 and rows[0][0] == "Champions" and rows[0][1] > 0, str(rows))
    total = conn.execute("select sum(net_revenue) from gold.sales_summary where grain = 'month'").fetchone()[0]
    check("psycopg numeric", total is not None and float(total) > 0, str(total))
    try:
        conn.execute("drop table gold.customer_metrics")
        check("DROP refused", False)
    except psycopg.Error as e:
        check("DROP refused", e.sqlstate == "25006", f"{e.sqlstate}: {str(e).strip()}")
    n = conn.execute("select count(*) from gold.customer_metrics").fetchone()[0]
    check("table still there", n > 0, str(n))

try:
    psycopg.connect(f"host={host} port={port} user={user} password=wrong-{password} dbname={dbname}").close()
    check("wrong password refused", False)
except psycopg.OperationalError as e:
    check("wrong password refused", "password" in str(e).lower(), str(e).strip().splitlines()[-1])

engine = sa.create_engine(f"postgresql+psycopg://{user}:{password}@{host}:{port}/{dbname}")
inspector = sa.inspect(engine)
schemas = inspector.get_schema_names()
check("SQLAlchemy schemas", "gold" in schemas and "silver" in schemas, str(schemas))
tables = inspector.get_table_names(schema="gold")
check("SQLAlchemy tables", "customer_metrics" in tables and "sales_summary" in tables, f"{len(tables)} gold tables")
columns = {c["name"]: c["type"] for c in inspector.get_columns("customer_metrics", schema="gold")}
check("SQLAlchemy columns", "clv" in columns and "customer_id" in columns, ", ".join(f"{k} {v}" for k, v in list(columns.items())[:4]))
metadata = sa.MetaData()
metrics = sa.Table("customer_metrics", metadata, schema="gold", autoload_with=engine)
check("SQLAlchemy Table reflection", len(metrics.columns) == len(columns), f"{len(metrics.columns)} columns")
with engine.connect() as conn:
    top = conn.execute(sa.select(metrics.c.customer_name, metrics.c.clv).order_by(metrics.c.clv.desc()).limit(3)).fetchall()
    check("SQLAlchemy select", len(top) == 3, str(top[0]))
    df = pd.read_sql("select * from gold.customer_segmentation", conn)
    check("pandas read_sql", len(df) > 0 and "segment" in df.columns, f"{len(df)} rows x {len(df.columns)} columns")
    df2 = pd.read_sql_table("sales_summary", conn, schema="gold")
    check("pandas read_sql_table", len(df2) > 0, f"{len(df2)} rows")
print("all client checks passed")
