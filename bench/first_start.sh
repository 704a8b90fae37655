#!/usr/bin/env bash
# The first-start figure of the README: `git clone` to /readyz answering 200, with cold package caches, from a
# clone inside a directory only its owner may enter (mode 0700, as /root is), then stops the portal and checks
# that the directory's mode did not change.
#
#   bash bench/first_start.sh [REPOSITORY] [PORT]      # default: this checkout, port 8611
#
# "Cold": a new empty PIP_CACHE_DIR and npm cache, no .venv, node_modules or .run. pip still reads whatever
# local index mirrors the machine configures (`pip config list`, /etc/pip.conf) before PyPI; say so with the figure.
set -euo pipefail
REPO=${1:-$(cd "$(dirname "$0")/.." && pwd)}
PORT=${2:-8611}
WORK=$(mktemp -d /tmp/portal-first-start.XXXXXX)   # mode 0700
chmod 700 "$WORK"
export PIP_CACHE_DIR="$WORK.pip-cache" npm_config_cache="$WORK.npm-cache"
mkdir -p "$PIP_CACHE_DIR" "$npm_config_cache"
mode_before=$(stat -c %a "$WORK")
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
t0=$(date +%s.%N)
git clone -q "$REPO" "$WORK/portal"
cd "$WORK/portal"
env -u DATABASE_URL -u REDIS_URL PORT="$PORT" setsid make run > "$WORK.log" 2>&1 &
make_pid=$!
code=0
until [ "$code" = 200 ]; do
  if ! kill -0 "$make_pid" 2>/dev/null; then echo "make run ended before /readyz answered: see $WORK.log"; exit 1; fi
  sleep 1
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz" || true)
done
t1=$(date +%s.%N)
echo "git clone -> /readyz 200: $(python3 -c "print(f'{$t1 - $t0:.0f}')") s (log: $WORK.log)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
kill -INT -- -"$make_pid"
wait "$make_pid" 2>/dev/null || true
mode_after=$(stat -c %a "$WORK")
echo "mode of the private directory: $mode_before before, $mode_after after"
# Remove the clone, the caches and (as root) the embedded PostgreSQL's copy and data; KEEP=1 keeps them.
if [ "${KEEP:-0}" != 1 ]; then
  shared=$(.venv/bin/python -c 'from pathlib import Path; from portal.devservices import EmbeddedPostgres as P; print(P(Path(".run")).shared_dir or "")')
  cd /
  [ -n "$shared" ] && rm -rf "$shared"
  rm -rf "$WORK" "$PIP_CACHE_DIR" "$npm_config_cache"
fi
[ "$mode_before" = "$mode_after" ]
