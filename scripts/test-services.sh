#!/usr/bin/env bash
# Make sure PostgreSQL, Redis and Debian's Chromium are there for the tests: use running ones,
# start stopped ones, and install through apt only what is missing.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -q; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
}

if ! port_open 5432; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    echo ">> installing PostgreSQL"
    apt_install postgresql
  fi
  echo ">> starting PostgreSQL"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start || true
  for _ in $(seq 1 30); do port_open 5432 && break; sleep 1; done
  # A fresh cluster only allows peer login for postgres; give it the password the tests use.
  as_root su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'postgres'\"" || true
fi

if ! port_open 6379; then
  command -v redis-server >/dev/null || { echo ">> installing Redis"; apt_install redis-server; }
  echo ">> starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 1 30); do port_open 6379 && break; sleep 1; done
fi

if [ ! -x /usr/bin/chromium ]; then
  echo ">> installing Chromium"
  apt_install chromium fonts-dejavu-core
fi

# WeasyPrint's Debian libraries (receipt and statement PDFs).
"$(dirname "$0")/pdf-deps.sh"

port_open 5432 || { echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }
port_open 6379 || { echo "Redis is not reachable on 127.0.0.1:6379" >&2; exit 1; }
