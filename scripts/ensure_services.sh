#!/usr/bin/env bash
# Services the test suite needs: the machine's PostgreSQL, MariaDB and Redis (started if down), and Debian's
# chromium for the browser tests (installed if missing). Never downloads a browser build.
set -euo pipefail
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  fi
fi
# MariaDB, the HOSxP connector's source in tests/connectors/test_hosxp_*.py (those tests fail,
# never skip, when it does not answer). `mysqladmin ping` answers even without a login.
mariadb_up() { mysqladmin --protocol=tcp -h 127.0.0.1 -P 3306 -u root ping >/dev/null 2>&1; }
if command -v mysqladmin >/dev/null && ! mariadb_up && [ -x /etc/init.d/mariadb ]; then
  /etc/init.d/mariadb start >/dev/null 2>&1 || true
  for _ in $(seq 1 30); do mariadb_up && break; sleep 1; done
fi
# Redis, the CeleryExecutor's broker in tests/dags/test_celery_executor.py (make test-long):
# a throwaway broker, so no persistence (no RDB snapshots, no append-only file).
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
if command -v redis-server >/dev/null && ! redis_up; then
  redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save '' --appendonly no >/dev/null || true
  for _ in $(seq 1 15); do redis_up && break; sleep 1; done
fi
# Thai fonts, so that the viewer's screenshots show Thai text rather than boxes.
missing=()
command -v chromium >/dev/null || missing+=(chromium)
[ -d /usr/share/fonts/truetype/tlwg ] || missing+=(fonts-thai-tlwg-ttf)
if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  # The dpkg lock may be busy (another apt run): retry a few times, updating the lists once.
  installed=no
  for attempt in 1 2 3 4 5; do
    if apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; then installed=yes; break; fi
    [ "$attempt" = 1 ] && apt-get update -qq >/dev/null 2>&1 || sleep 10
  done
  [ "$installed" = yes ] || echo "could not install ${missing[*]}; browser tests will fail"
fi
