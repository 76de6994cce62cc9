"""Other engines read orderlake's Delta tables: Polars (delta-rs's Python reader), DuckDB with its
delta extension (loaded from the PyPI wheel: INSTALL cannot download here), and the Spark API on
Sail (a Spark Connect server in Rust, `spark.read.format("delta")`).

    python delta_readers.py TABLE_PATH [TABLE_PATH ...]

TABLE_PATH is a table's folder (`<warehouse>/gold/customer_metrics`) or its s3:// URL (the AWS_*
settings of the environment are used; DuckDB reads local tables only: its S3 support is another
extension). Prints one JSON object: for each reader and table, `count` and `sum` of the table's
first numeric column named in SUM_COLUMNS, so the caller compares them with `orderlake sql`.
"""

import json
import os
import warnings
import socket
import subprocess
import sys
import time
from pathlib import Path

SUM_COLUMNS = ["clv", "net_revenue", "revenue", "quantity"]


def numeric_column(columns):
    for name in SUM_COLUMNS:
        if name in columns:
            return name
    raise SystemExit(f"none of {SUM_COLUMNS} in {columns}")


def storage_options():
    options = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    if options.get("AWS_ENDPOINT_URL", "").startswith("http://"):
        options.setdefault("AWS_ALLOW_HTTP", "true")
    return options


def polars_figures(path):
    import polars as pl

    frame = pl.read_delta(path, storage_options=storage_options() if path.startswith("s3://") else None)
    column = numeric_column(frame.columns)
    return {"count": frame.height, "sum": round(float(frame[column].cast(pl.Float64).sum()), 2)}


def duckdb_figures(path):
    import duckdb
    import duckdb_extension_delta

    extension = next(Path(duckdb_extension_delta.__file__).parent.glob("extensions/*/delta.duckdb_extension"))
    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    con.execute(f"LOAD '{extension}'")
    columns = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM delta_scan('{path}')").fetchall()]
    column = numeric_column(columns)
    count, total = con.execute(
        f"SELECT count(*), round(sum(CAST({column} AS DOUBLE)), 2) FROM delta_scan('{path}')"
    ).fetchone()
    return {"count": count, "sum": round(float(total), 2)}


class Sail:
    """A Sail Spark Connect server on a free loopback port, for the length of a `with`."""

    def __enter__(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        sail = Path(sys.executable).parent / "sail"
        self.process = subprocess.Popen(
            [str(sail), "spark", "server", "--ip", "127.0.0.1", "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **storage_options()},
        )
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline or self.process.poll() is not None:
                    raise SystemExit("sail did not start")
                time.sleep(0.2)
        from pyspark.sql import SparkSession

        self.spark = SparkSession.builder.remote(f"sc://127.0.0.1:{self.port}").getOrCreate()
        return self

    def figures(self, path):
        from pyspark.sql import functions as F

        frame = self.spark.read.format("delta").load(path)
        column = numeric_column(frame.columns)
        row = frame.agg(F.count(F.lit(1)).alias("n"), F.sum(F.col(column).cast("double")).alias("s")).collect()[0]
        return {"count": row["n"], "sum": round(float(row["s"]), 2)}

    def __exit__(self, *_):
        try:
            self.spark.stop()
        finally:
            self.process.terminate()
            self.process.wait(timeout=30)


def main():
    # PySpark warns about pandas 3 on import; nothing here uses pandas.
    warnings.filterwarnings("ignore", category=FutureWarning)
    paths = sys.argv[1:]
    if not paths:
        raise SystemExit(__doc__)
    out = {"polars": {}, "duckdb": {}, "sail": {}}
    for path in paths:
        out["polars"][path] = polars_figures(path)
        if not path.startswith("s3://"):
            out["duckdb"][path] = duckdb_figures(path)
    with Sail() as sail:
        for path in paths:
            out["sail"][path] = sail.figures(path)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
