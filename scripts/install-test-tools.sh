#!/usr/bin/env bash
# Installs what the client and browser tests drive, from Debian's packages and PyPI:
# psql (postgresql-client), the PostgreSQL server (for the desk's tests), Debian's chromium, pgJDBC (with a JRE if the image has none),
# psqlODBC with unixODBC, moto's S3 server, Polars/DuckDB/Sail as Delta readers, and a Python venv with psycopg, psycopg2, asyncpg, pg8000, pyodbc,
# SQLAlchemy, pandas, polars + ADBC, and DuckDB with its postgres extension as a wheel (DuckDB's
# INSTALL cannot download here). Idempotent and quick when everything is there; CI runs it.
set -euo pipefail

VENV="${ORDERLAKE_PYCLIENTS:-$HOME/.cache/orderlake/pyclients}"
need=()
command -v psql >/dev/null 2>&1 || need+=(postgresql-client)
# The PostgreSQL server the desk's tests run on (started per test process by crates/test-postgres).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v python3 >/dev/null 2>&1 || need+=(python3)
python3 -m venv --help >/dev/null 2>&1 || need+=(python3-venv)
command -v java >/dev/null 2>&1 || need+=(default-jre-headless)
[ -f /usr/share/java/postgresql.jar ] || need+=(libpostgresql-jdbc-java)
odbcinst -q -d 2>/dev/null | grep -q "PostgreSQL Unicode" || need+=(odbc-postgresql unixodbc)
if ((${#need[@]})); then
  echo "== apt-get install ${need[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
PY_IMPORTS="import psycopg, sqlalchemy, pandas, psycopg2, asyncpg, pg8000, pyodbc, polars, adbc_driver_postgresql, pyarrow, duckdb, duckdb_ext"
if ! "$VENV/bin/python" -c "$PY_IMPORTS" >/dev/null 2>&1; then
  echo "== python venv $VENV: psycopg, psycopg2, asyncpg, pg8000, pyodbc, SQLAlchemy, pandas, polars, ADBC, DuckDB"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check \
    "psycopg[binary]==3.3.9" "SQLAlchemy==2.1.9" "pandas==3.1.1" \
    "psycopg2-binary==2.9.13" "asyncpg==0.32.0" "pg8000==1.31.6" "pyodbc==5.5.0" \
    "polars==2.1.0" "adbc-driver-manager==1.13.0" "adbc-driver-postgresql==1.13.0" "pyarrow==26.0.1" \
    "duckdb==1.4.4" "duckdb-ext-postgres==1.4.4.20260205"
fi
# Apache Superset, the BI tool of the end-to-end test, in a venv of its own (its pins clash with
# the client libraries above).
SUPERSET_VENV="${ORDERLAKE_SUPERSET:-$HOME/.cache/orderlake/superset}"
if ! "$SUPERSET_VENV/bin/python" -c "import superset, psycopg2" >/dev/null 2>&1; then
  echo "== Superset venv $SUPERSET_VENV (a few minutes the first time)"
  python3 -m venv "$SUPERSET_VENV"
  "$SUPERSET_VENV/bin/pip" install -q --disable-pip-version-check \
    "apache-superset==6.1.0" "psycopg2-binary==2.9.13" "rich==15.0.0" "cachetools==8.0.2" "flask-caching==2.3.1"
fi
# moto's S3 server: the S3-compatible store of the object-storage tests (in memory; enforces
# conditional puts, which Delta commits rely on). A venv of its own (boto3's pins).
MOTO_VENV="${ORDERLAKE_MOTO:-$HOME/.cache/orderlake/moto}"
if ! "$MOTO_VENV/bin/python" -c "import moto.server, flask_cors" >/dev/null 2>&1; then
  echo "== moto venv $MOTO_VENV"
  python3 -m venv "$MOTO_VENV"
  "$MOTO_VENV/bin/pip" install -q --disable-pip-version-check \
    "moto[s3,server]==5.2.5" "flask==3.1.3" "flask-cors==6.0.5"
fi
echo "== moto: $("$MOTO_VENV/bin/pip" show moto 2>/dev/null | grep ^Version)"
# Other engines that read orderlake's Delta tables: Polars (delta-rs's Python reader), DuckDB
# 1.5 with its delta extension as a wheel, and the Spark API on Sail (a Spark Connect server).
READERS_VENV="${ORDERLAKE_READERS:-$HOME/.cache/orderlake/readers}"
if ! "$READERS_VENV/bin/python" -c "import polars, deltalake, duckdb, duckdb_extension_delta, pyspark, pysail" >/dev/null 2>&1; then
  echo "== readers venv $READERS_VENV: polars, deltalake, duckdb + delta, pysail + pyspark-client"
  python3 -m venv "$READERS_VENV"
  "$READERS_VENV/bin/pip" install -q --disable-pip-version-check \
    "pysail==0.7.2" "pyspark-client==4.2.0" "deltalake==1.6.6" "polars==2.1.0" \
    "duckdb==1.5.5" "duckdb-extension-delta==1.5.5" "pyarrow==26.0.1"
fi
echo "== test tools: $(psql --version | head -1); $(chromium --version 2>/dev/null | head -1); $(java -version 2>&1 | head -1); pgJDBC $(basename /usr/share/java/postgresql-[0-9]*.jar .jar); ODBC drivers: $(odbcinst -q -d | tr '\n' ' ')"
echo "== superset: $("$SUPERSET_VENV/bin/pip" show apache-superset 2>/dev/null | grep ^Version)"
echo "== python: $("$VENV/bin/python" -c "$PY_IMPORTS"'; print("psycopg", psycopg.__version__, "psycopg2", psycopg2.__version__.split()[0], "asyncpg", asyncpg.__version__, "SQLAlchemy", sqlalchemy.__version__, "pandas", pandas.__version__, "polars", polars.__version__, "duckdb", duckdb.__version__)')"
