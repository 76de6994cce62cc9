"""What a hostile or broken client does to `orderlake serve`, and that the endpoint stays up:
the connection limit (answered with SQLSTATE 53300), the idle timeout, garbage before and
during the startup handshake, random protocol messages after a real login, random SQL.
After each round a fresh client must still get the right count.

Usage: endpoint_abuse.py HOST PORT USER PASSWORD DBNAME LIMIT IDLE_SECS EXPECTED_COUNT
The server must run with --pg-max-connections LIMIT --pg-idle-timeout IDLE_SECS.
"""

import random
import socket
import struct
import sys
import time

import pg8000.native
import psycopg

host, port, user, password, dbname = sys.argv[1:6]
port = int(port)
limit, idle_secs, expected_count = int(sys.argv[6]), float(sys.argv[7]), int(sys.argv[8])
dsn = f"host={host} port={port} user={user} password={password} dbname={dbname} sslmode=disable"
rng = random.Random(20261201)


def check(name, ok, detail=""):
    print(f"{'ok' if ok else 'FAIL'}: {name} {detail}".rstrip(), flush=True)
    if not ok:
        sys.exit(1)


def still_serving(after):
    # Connections a round left behind close asynchronously: allow them a moment.
    for attempt in range(40):
        try:
            with psycopg.connect(dsn, connect_timeout=5) as conn:
                n = conn.execute("select count(*) from gold.customer_metrics").fetchone()[0]
            check(f"still serving after {after}", n == expected_count, f"count {n}")
            return
        except psycopg.OperationalError as e:
            if "too many clients" not in str(e) or attempt == 39:
                check(f"still serving after {after}", False, str(e).strip())
            time.sleep(0.25)


# 1. The connection limit: the one over it is told why, and the slot frees on close.
held = [psycopg.connect(dsn) for _ in range(limit)]
try:
    psycopg.connect(dsn, connect_timeout=5).close()
    check("connection over the limit refused", False)
except psycopg.OperationalError as e:
    check("connection over the limit refused", "too many clients" in str(e), str(e).strip().splitlines()[-1])
for conn in held:
    conn.close()
still_serving("the limit")

# 2. The idle timeout closes a silent connection; a busy one is untouched.
idle = psycopg.connect(dsn, autocommit=True)
busy = psycopg.connect(dsn, autocommit=True)
deadline = time.time() + idle_secs * 2.5
while time.time() < deadline:
    busy.execute("select count(*) from gold.customer_metrics").fetchone()
    time.sleep(idle_secs / 4)
try:
    idle.execute("select 1").fetchone()
    check("idle connection closed", False)
except psycopg.OperationalError as e:
    check("idle connection closed", True, type(e).__name__)
check("active connection kept", busy.execute("select 1").fetchone()[0] == 1)
busy.close()


# 3. Garbage before and during startup.
def raw(payload, read=True):
    s = socket.create_connection((host, port), timeout=5)
    try:
        s.sendall(payload)
        if read:
            try:
                s.recv(4096)
            except (socket.timeout, ConnectionError):
                pass
    except ConnectionError:
        pass
    finally:
        s.close()


startup = struct.pack("!ii", 0, 196608) + b"user\0" + user.encode() + b"\0database\0" + dbname.encode() + b"\0\0"
startup = struct.pack("!i", len(startup) - 4 + 4) + startup[4:]
cases = [
    b"",
    b"\0",
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    struct.pack("!ii", 8, 80877103) + b"\x16\x03\x01garbage-not-tls",  # SSLRequest, then not TLS
    struct.pack("!ii", 8, 80877104),  # GSSENCRequest
    struct.pack("!ii", 16, 80877102) + b"\0" * 8,  # CancelRequest for nobody
    struct.pack("!i", 2**31 - 1) + b"\0" * 64,  # a huge declared length
    struct.pack("!i", -5),  # a negative length
    struct.pack("!ii", 9, 1234) + b"x",  # an unknown protocol version
    startup[: len(startup) // 2],  # a truncated startup message
    startup + b"p" + struct.pack("!i", 4),  # an empty password message mid-SASL
    startup + b"p" + struct.pack("!i", 100) + b"SCRAM-SHA-256\0" + b"\xff" * 80,  # bad SASL
]
for _ in range(150):
    cases.append(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 400))))
for _ in range(60):
    cut = rng.randint(1, len(startup))
    cases.append(startup[:cut] + bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 64))))
for i, payload in enumerate(cases):
    raw(payload, read=i % 3 == 0)
still_serving(f"{len(cases)} garbage handshakes")

# 4. Random protocol messages after a real login (pg8000's socket, once authenticated).
kinds = b"QPBEDSCHFdcfXpZ\0\xff"
for round_ in range(40):
    conn = pg8000.native.Connection(user, host=host, port=port, password=password, database=dbname, timeout=5)
    sock = conn._usock
    try:
        for _ in range(rng.randint(1, 6)):
            kind = bytes([rng.choice(kinds)])
            body = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 200)))
            length = len(body) + 4 if rng.random() < 0.8 else rng.randint(-10, 2**31 - 1)
            sock.sendall(kind + struct.pack("!i", length) + body)
        sock.settimeout(0.5)
        try:
            sock.recv(65536)
        except (socket.timeout, ConnectionError, OSError):
            pass
    except (ConnectionError, OSError):
        pass
    finally:
        sock.close()
still_serving("random protocol messages after login")

# 5. Random SQL: every statement is answered (an error is fine), nothing breaks.
words = [
    "select", "from", "where", "gold.customer_metrics", "pg_catalog.pg_class", "(", ")", "'", '"',
    ",", "*", "count(*)", "union", "join", "on", "1", "-1", "null", "::int2", "::regclass", "$1",
    ";", "--", "/*", "copy", "to", "stdout", "drop", "table", "insert", "into", "values", "é", "\\",
    "order by 1", "group by", "limit 9223372036854775807", "read_csv('/etc/passwd')", "x" * 5000,
]
errors = answered = 0
with psycopg.connect(dsn, autocommit=True) as conn:
    for _ in range(300):
        sql = " ".join(rng.choice(words) for _ in range(rng.randint(1, 12)))
        try:
            cur = conn.execute(sql)
            if cur.description:
                cur.fetchall()
            answered += 1
        except psycopg.Error as e:
            errors += 1
            if conn.closed or conn.broken:
                check("connection survives random SQL", False, f"{sql!r}: {e}")
check("random SQL answered", answered + errors == 300, f"{answered} answered or no rows, {errors} errors")
still_serving("random SQL")
print("all endpoint abuse checks passed")
