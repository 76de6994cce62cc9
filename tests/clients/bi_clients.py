"""The drivers BI tools and data tools connect with, against `orderlake serve` (with TLS):
psycopg2, asyncpg, pg8000, pyodbc (psqlODBC), polars and pyarrow over ADBC (COPY ... TO STDOUT
binary), DuckDB's postgres scanner (ATTACH: its transaction-mode BEGIN, catalog queries and
binary COPY), COPY in text and CSV through psycopg, TLS with sslmode=require and verify-full,
table and column comments through SQLAlchemy, PostgreSQL's column names.

Every client reads the same two numbers, compared with what `orderlake sql` computed:
    select count(*), sum(clv) from gold.customer_metrics

Usage: bi_clients.py HOST PORT USER PASSWORD DBNAME CERT_PEM EXPECTED_COUNT EXPECTED_SUM
Prints one line per check and exits non-zero on the first failure.
"""

import asyncio
import csv
import glob
import io
import os
import sys
from decimal import Decimal

host, port, user, password, dbname, cert = sys.argv[1:7]
expected_count = int(sys.argv[7])
expected_sum = Decimal(sys.argv[8])
QUERY = "select count(*) as n, sum(clv) as total from gold.customer_metrics"


def check(name, ok, detail=""):
    print(f"{'ok' if ok else 'FAIL'}: {name} {detail}".rstrip(), flush=True)
    if not ok:
        sys.exit(1)


def same(name, n, total):
    ok = int(n) == expected_count and abs(Decimal(str(total)) - expected_sum) < Decimal("0.005")
    check(name, ok, f"count {n}, sum {total} (expected {expected_count}, {expected_sum})")


# --- psycopg (3): TLS, COPY text and CSV, comments, names -------------------------------------
import psycopg  # noqa: E402

dsn = f"host={host} port={port} user={user} password={password} dbname={dbname}"
with psycopg.connect(dsn + " sslmode=require", autocommit=True) as conn:
    check("TLS sslmode=require", conn.info.pgconn.ssl_in_use, "ssl in use")
    same("psycopg over TLS", *conn.execute(QUERY).fetchone())
with psycopg.connect(dsn.replace(f"host={host}", "host=localhost") + f" sslmode=verify-full sslrootcert={cert}") as conn:
    same("TLS verify-full against the printed certificate", *conn.execute(QUERY).fetchone())

with psycopg.connect(dsn, autocommit=True) as conn:
    cur = conn.execute(QUERY)
    check("column names as PostgreSQL's", [d.name for d in cur.description] == ["n", "total"])
    cur = conn.execute("select count(*), max(clv) from gold.customer_metrics")
    check("unnamed aggregates named count and max", [d.name for d in cur.description] == ["count", "max"], str([d.name for d in cur.description]))

    text = io.StringIO()
    with conn.cursor().copy("COPY (select customer_id, clv from gold.customer_metrics) TO STDOUT") as copy:
        for block in copy:
            text.write(bytes(block).decode())
    lines = [line.split("\t") for line in text.getvalue().splitlines()]
    same("COPY TO STDOUT (text)", len(lines), sum(Decimal(clv) for _, clv in lines))

    text = io.StringIO()
    with conn.cursor().copy("COPY gold.customer_metrics (customer_id, customer_name, clv) TO STDOUT WITH (FORMAT csv, HEADER)") as copy:
        for block in copy:
            text.write(bytes(block).decode())
    rows = list(csv.DictReader(io.StringIO(text.getvalue())))
    check("COPY CSV header", list(rows[0].keys()) == ["customer_id", "customer_name", "clv"], str(list(rows[0].keys())))
    same("COPY TO STDOUT (CSV)", len(rows), sum(Decimal(r["clv"]) for r in rows))

    with conn.cursor().copy("COPY (select customer_id, clv from gold.customer_metrics) TO STDOUT (FORMAT binary)") as copy:
        copy.set_types(["int8", "numeric"])
        got = list(copy.rows())
    same("COPY TO STDOUT (binary)", len(got), sum(clv for _, clv in got))

    for statement, code in [
        ("COPY gold.customer_metrics FROM STDIN", "25006"),
        ("COPY gold.customer_metrics TO '/tmp/orderlake-copy.csv'", "42501"),
        ("COPY (select 1) TO PROGRAM 'id'", "42501"),
    ]:
        try:
            with conn.cursor().copy(statement):
                pass
            check(f"refused: {statement}", False)
        except psycopg.Error as e:
            check(f"refused: {statement}", e.sqlstate == code, f"{e.sqlstate}: {str(e).strip()}")
    check("no file written by COPY", not os.path.exists("/tmp/orderlake-copy.csv"))

    conn.execute("set search_path to gold, public")
    path = conn.execute("show search_path").fetchone()[0]
    schema = conn.execute("select current_schema()").fetchone()[0]
    check("SET search_path", (path, schema) == ("gold, public", "gold"), f"{path!r}, {schema!r}")
    same("bare table name on the search path", *conn.execute("select count(*), sum(clv) from customer_metrics").fetchone())
    conn.execute("reset search_path")

    comment = conn.execute("select obj_description('gold.customer_metrics'::regclass, 'pg_class')").fetchone()[0]
    check("table comment (obj_description)", bool(comment) and "customer" in comment.lower(), repr(comment))

import sqlalchemy as sa  # noqa: E402

engine = sa.create_engine(f"postgresql+psycopg://{user}:{password}@{host}:{port}/{dbname}")
inspector = sa.inspect(engine)
table_comment = inspector.get_table_comment("customer_metrics", schema="gold")["text"]
check("SQLAlchemy table comment", table_comment == comment, repr(table_comment))
column_comments = {c["name"]: c.get("comment") for c in inspector.get_columns("customer_metrics", schema="gold")}
check("SQLAlchemy column comments", bool(column_comments.get("clv")), repr(column_comments.get("clv")))
engine.dispose()

# --- psycopg2 --------------------------------------------------------------------------------
import psycopg2  # noqa: E402

conn = psycopg2.connect(host=host, port=port, user=user, password=password, dbname=dbname)
cur = conn.cursor()
cur.execute(QUERY)
same("psycopg2", *cur.fetchone())
cur.execute("select count(*) from gold.customer_metrics where clv > %s", (0,))
check("psycopg2 parameter", cur.fetchone()[0] <= expected_count)
conn.close()

# --- asyncpg (binary results, prepared statements) -------------------------------------------
import asyncpg  # noqa: E402


async def with_asyncpg():
    conn = await asyncpg.connect(host=host, port=int(port), user=user, password=password, database=dbname)
    row = await conn.fetchrow(QUERY)
    same("asyncpg", row["n"], row["total"])
    n = await conn.fetchval("select count(*) from gold.customer_metrics where clv >= $1", Decimal("0"))
    check("asyncpg parameter", n <= expected_count, str(n))
    await conn.close()


asyncio.run(with_asyncpg())

# --- pg8000 ----------------------------------------------------------------------------------
import pg8000.native  # noqa: E402

conn = pg8000.native.Connection(user, host=host, port=int(port), password=password, database=dbname)
same("pg8000", *conn.run(QUERY)[0])
conn.close()

# --- pyodbc over psqlODBC --------------------------------------------------------------------
import pyodbc  # noqa: E402

conn = pyodbc.connect(
    f"DRIVER={{PostgreSQL Unicode}};SERVER={host};PORT={port};UID={user};PWD={password};DATABASE={dbname}"
)
cur = conn.cursor()
cur.execute(QUERY)
same("pyodbc (psqlODBC)", *cur.fetchone())
tables = [t.table_name for t in cur.tables(schema="gold")]
check("psqlODBC tables()", "customer_metrics" in tables, f"{len(tables)} tables")
conn.close()

# --- ADBC: polars and pyarrow (COPY ... TO STDOUT binary) ------------------------------------
import adbc_driver_postgresql.dbapi as adbc  # noqa: E402
import polars as pl  # noqa: E402

uri = f"postgresql://{user}:{password}@{host}:{port}/{dbname}"
frame = pl.read_database_uri("select customer_id, clv from gold.customer_metrics", uri, engine="adbc")
same("polars (ADBC)", frame.height, sum(Decimal(str(v)) for v in frame["clv"].to_list()))
with adbc.connect(uri) as conn:
    with conn.cursor() as cur:
        cur.execute("select * from gold.customer_metrics")
        table = cur.fetch_arrow_table()
check("pyarrow (ADBC) types", str(table.schema.field("customer_id").type) == "int64", str(table.schema.field("customer_id").type))
same("pyarrow (ADBC)", table.num_rows, sum(Decimal(str(v)) for v in table.column("clv").to_pylist()))

# --- DuckDB's postgres scanner ---------------------------------------------------------------
import duckdb  # noqa: E402

extension = glob.glob(os.path.join(sys.prefix, "lib", "python3*", "site-packages", "duckdb_ext", "extensions", "*", "*", "postgres_scanner.duckdb_extension"))
check("DuckDB postgres extension wheel", bool(extension), "run scripts/install-test-tools.sh")
duck = duckdb.connect()
duck.execute(f"LOAD '{extension[0]}'")
duck.execute(f"ATTACH 'host={host} port={port} user={user} password={password} dbname={dbname}' AS lake (TYPE postgres, READ_ONLY)")
same("DuckDB ATTACH (postgres scanner)", *duck.execute("select count(*), sum(clv) from lake.gold.customer_metrics").fetchone())
joined = duck.execute(
    "select count(*) from lake.gold.customer_metrics m join lake.gold.customer_segmentation s using (customer_id)"
).fetchone()[0]
check("DuckDB join of two served tables", joined == expected_count, str(joined))
schemas = {r[0] for r in duck.execute("select schema_name from duckdb_schemas() where database_name = 'lake'").fetchall()}
check("DuckDB sees the schemas", {"gold", "silver"} <= schemas, str(sorted(schemas)))
print("all BI client checks passed")
