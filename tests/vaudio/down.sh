#!/usr/bin/env bash
# Stop the virtual sound card started by up.sh (idempotent; stops only its own daemon).
set -uo pipefail
DIR="${VAUDIO_DIR:-/tmp/interviewer-vaudio}"
DROPIN=/etc/pulse/client.conf.d/99-interviewer-vaudio.conf
pid="$(cat "$DIR/daemon.pid" 2>/dev/null || true)"
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
  kill "$pid"
  for _ in $(seq 1 30); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
fi
# the client drop-in is removed only when it names our socket
grep -qs "unix:$DIR/native" "$DROPIN" && rm -f "$DROPIN"
rm -rf "$DIR"
echo "vaudio: down"
