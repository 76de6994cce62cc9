#!/usr/bin/env bash
# Installs what the client and browser tests drive, from Debian's packages and PyPI:
# psql (postgresql-client), Debian's chromium, and a Python venv with psycopg, SQLAlchemy and
# pandas. Idempotent and quick when everything is there; CI runs it before the tests.
set -euo pipefail

VENV="${ORDERLAKE_PYCLIENTS:-$HOME/.cache/orderlake/pyclients}"
need=()
command -v psql >/dev/null 2>&1 || need+=(postgresql-client)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v python3 >/dev/null 2>&1 || need+=(python3)
python3 -m venv --help >/dev/null 2>&1 || need+=(python3-venv)
if ((${#need[@]})); then
  echo "== apt-get install ${need[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if ! "$VENV/bin/python" -c "import psycopg, sqlalchemy, pandas" >/dev/null 2>&1; then
  echo "== python venv $VENV: psycopg, SQLAlchemy, pandas"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check \
    "psycopg[binary]==3.3.9" "SQLAlchemy==2.1.9" "pandas==3.1.1"
fi
echo "== test tools: $(psql --version | head -1); $(chromium --version 2>/dev/null | head -1); python $("$VENV/bin/python" -c 'import psycopg, sqlalchemy, pandas; print("psycopg", psycopg.__version__, "SQLAlchemy", sqlalchemy.__version__, "pandas", pandas.__version__)')"
