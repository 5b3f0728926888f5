#!/usr/bin/env bash
# make demo: the engine (embedded NATS, example workers, live demo load) in
# the background with its own data directory, the console in the foreground;
# the engine stops when the console exits.
set -euo pipefail
BIN=${BIN:-bin}
DATA=${DATA:-./foreman-data}
SYNC=${SYNC:-interval}
LISTEN=${LISTEN:-127.0.0.1:4222}
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
	if grep -q "foreman-engine ready" "$LOG"; then break; fi
	sleep 0.1
done
echo "foreman-engine is running (log: $LOG); opening the console — q quits both" >&2
"$BIN/foreman" "$@"
