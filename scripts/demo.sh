#!/usr/bin/env bash
# make demo: the engine (embedded NATS, example workers, live demo load) in
# the background with its own data directory, the console in the foreground;
# the engine stops when the console exits.
set -euo pipefail
BIN=${BIN:-bin}
DATA=${DATA:-./foreman-data}
SYNC=${SYNC:-interval}
LISTEN=${LISTEN:-127.0.0.1:4222}
# A server already on the port (4222 is every local nats-server's) would
# leave the engine waiting for a listener it never gets: say so at once.
HOST=${LISTEN%:*}
PORT=${LISTEN##*:}
if (exec 3<>"/dev/tcp/${HOST:-127.0.0.1}/$PORT") 2>/dev/null; then
	echo "make demo: port $PORT ($LISTEN) is already taken by another process (4222 is the port of every local nats-server)." >&2
	echo "Stop that process, or run the demo on another port: make demo LISTEN=127.0.0.1:4333" >&2
	exit 1
fi
mkdir -p "$DATA"
LOG="$DATA/engine.log"
"$BIN/foreman-engine" --demo --data "$DATA" --sync "$SYNC" --listen "$LISTEN" >"$LOG" 2>&1 &
ENGINE=$!
trap 'kill -TERM $ENGINE 2>/dev/null; wait $ENGINE 2>/dev/null || true' EXIT INT TERM
export FOREMAN_NATS="nats://$LISTEN"
for _ in $(seq 1 300); do
	if ! kill -0 $ENGINE 2>/dev/null; then
		echo "foreman-engine exited; its log ($LOG):" >&2
		tail -n 30 "$LOG" >&2
		exit 1
	fi
	if grep -q "foreman-engine ready" "$LOG"; then READY=1; break; fi
	sleep 0.1
done
if [ -z "${READY:-}" ]; then
	echo "foreman-engine did not become ready within 30 s; its log ($LOG):" >&2
	tail -n 30 "$LOG" >&2
	exit 1
fi
echo "foreman-engine is running (log: $LOG); opening the console — q quits both" >&2
"$BIN/foreman" "$@"
