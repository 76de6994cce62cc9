"""Apache Superset, a real BI tool, against `orderlake serve`: it starts with a fresh metadata
database, adds orderlake as a PostgreSQL database through its REST API (testing the connection
first), lists schemas, tables and a table's columns with their comments, and runs a SQL Lab
query on a gold table whose count and sum must equal what `orderlake sql` computed.

Usage (with Superset's own venv; scripts/install-test-tools.sh makes it):
    superset_e2e.py SUPERSET_BIN PG_HOST PG_PORT USER PASSWORD DBNAME COUNT SUM WORKDIR
Prints one line per check and exits non-zero on the first failure. Superset is stopped at exit.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from decimal import Decimal

superset_bin, pg_host, pg_port, user, password, dbname = sys.argv[1:7]
expected_count, expected_sum = int(sys.argv[7]), Decimal(sys.argv[8])
workdir = sys.argv[9]


def check(name, ok, detail=""):
    print(f"{'ok' if ok else 'FAIL'}: {name} {detail}".rstrip(), flush=True)
    if not ok:
        sys.exit(1)


os.makedirs(workdir, exist_ok=True)
config = os.path.join(workdir, "superset_config.py")
with open(config, "w") as f:
    f.write(
        "import os\n"
        "SECRET_KEY = 'orderlake-e2e-only-not-a-secret-0123456789'\n"
        "SQLALCHEMY_DATABASE_URI = 'sqlite:///' + os.path.join(os.environ['SUPERSET_HOME'], 'superset.db')\n"
        "WTF_CSRF_ENABLED = False\n"
        "PREVENT_UNSAFE_DB_CONNECTIONS = False\n"
    )
env = dict(os.environ, SUPERSET_HOME=workdir, SUPERSET_CONFIG_PATH=config, FLASK_APP="superset")
log = open(os.path.join(workdir, "superset.log"), "a")


def superset(*args):
    started = time.monotonic()
    done = subprocess.run([superset_bin, *args], env=env, stdout=log, stderr=subprocess.STDOUT)
    check(f"superset {args[0]} {args[1] if len(args) > 1 else ''}".rstrip(), done.returncode == 0, f"{time.monotonic() - started:.0f} s")


superset("db", "upgrade")
superset("fab", "create-admin", "--username", "admin", "--firstname", "Ada", "--lastname", "Admin",
         "--email", "admin@example.com", "--password", "admin")
superset("init")

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    web_port = s.getsockname()[1]
server = subprocess.Popen([superset_bin, "run", "-h", "127.0.0.1", "-p", str(web_port), "--with-threads"],
                          env=env, stdout=log, stderr=subprocess.STDOUT)
base = f"http://127.0.0.1:{web_port}"


def call(method, path, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


try:
    for _ in range(240):
        try:
            if urllib.request.urlopen(base + "/health", timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.5)
    else:
        check("Superset web server up", False)
    status, login = call("POST", "/api/v1/security/login",
                         {"username": "admin", "password": "admin", "provider": "db", "refresh": False})
    check("REST login", status == 200 and "access_token" in login, str(status))
    token = login["access_token"]

    uri = f"postgresql+psycopg2://{user}:{password}@{pg_host}:{pg_port}/{dbname}"
    status, tested = call("POST", "/api/v1/database/test_connection/",
                          {"sqlalchemy_uri": uri, "database_name": "orderlake"}, token)
    check("test connection", status == 200, f"{status} {tested}")
    status, created = call("POST", "/api/v1/database/",
                           {"database_name": "orderlake", "sqlalchemy_uri": uri, "expose_in_sqllab": True}, token)
    check("add orderlake as a PostgreSQL database", status == 201, f"{status} {created}")
    database_id = created["id"]

    status, schemas = call("GET", f"/api/v1/database/{database_id}/schemas/", token=token)
    check("schemas listed", status == 200 and "gold" in schemas.get("result", []), str(schemas.get("result")))
    query = "(schema_name:gold,force:!t)"
    status, tables = call("GET", f"/api/v1/database/{database_id}/tables/?q={urllib.parse.quote(query)}", token=token)
    names = [t.get("value") for t in tables.get("result", [])]
    check("gold tables listed", status == 200 and "customer_metrics" in names, f"{len(names)} tables")
    status, metadata = call("GET", f"/api/v1/database/{database_id}/table_metadata/?name=customer_metrics&schema=gold", token=token)
    columns = {c["name"]: c for c in metadata.get("columns", [])}
    check("table metadata: columns", status == 200 and "clv" in columns, f"{status} {len(columns)} columns")
    status, extra = call("GET", f"/api/v1/database/{database_id}/table_metadata/extra/?name=customer_metrics&schema=gold", token=token)
    check("table metadata extra", status == 200, str(status))

    sql = "select count(*) as n, sum(clv) as total from gold.customer_metrics"
    status, result = call("POST", "/api/v1/sqllab/execute/",
                          {"database_id": database_id, "sql": sql, "schema": "gold", "runAsync": False}, token)
    check("SQL Lab query ran", status == 200 and result.get("status") == "success", f"{status} {str(result)[:300]}")
    row = result["data"][0]
    n, total = int(row["n"]), Decimal(str(row["total"]))
    check("SQL Lab count and sum equal orderlake sql's", n == expected_count and abs(total - expected_sum) < Decimal("0.005"),
          f"{n}, {total} (expected {expected_count}, {expected_sum})")
    status, result = call("POST", "/api/v1/sqllab/execute/",
                          {"database_id": database_id, "schema": "gold", "runAsync": False,
                           "sql": "select segment, count(*) from customer_segmentation group by segment order by 2 desc"}, token)
    rows = result.get("data", [])
    check("SQL Lab group by over a bare table name", status == 200 and sum(r["count"] for r in rows) == expected_count,
          f"{len(rows)} segments")
finally:
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
print("all Superset checks passed")
