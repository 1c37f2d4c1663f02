# Shared by scripts/dev.sh and scripts/bench.sh: process control and a local Kratos.
# Source it after setting SCRIPT (the name errors are reported under) and ROOT.

log() { printf '\033[1m>> %s\033[0m\n' "$*" >&2; }
die() { printf '%s: %s\n' "$SCRIPT" "$*" >&2; exit 1; }

stop_pid() { # stop_pid PID [NAME]: SIGTERM, up to 10s, then SIGKILL
	local pid="$1" name="${2:-process $1}" i
	[ -n "$pid" ] || return 0
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "$name did not stop in 10s; killing it"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_http() { # wait_http URL NAME PID SECONDS LOGFILE: until URL answers 2xx, or die
	local url="$1" name="$2" pid="$3" secs="$4" logfile="$5" i
	for i in $(seq 1 $((secs * 10))); do
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 30 "$logfile" >&2 || true
			die "$name exited during startup (log: $logfile)"
		fi
		curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null && return 0
		sleep 0.1
	done
	tail -n 30 "$logfile" >&2 || true
	die "$name not ready after ${secs}s at $url (log: $logfile)"
}

# start_kratos PUBLIC_PORT ADMIN_PORT LOGFILE: runs KRATOS_BIN with the repo's kratos/
# config, in memory, on 127.0.0.1, waits until both APIs are ready, and sets KRATOS_PID.
# --dev allows plain-http cookies and the cheap bcrypt cost below. KRATOS_CPUS, when
# set, pins Kratos to those CPUs (taskset -c).
start_kratos() {
	local pub="$1" adm="$2" logfile="$3"
	(
		cd "$ROOT/kratos"
		exec ${KRATOS_CPUS:+taskset -c "$KRATOS_CPUS"} env \
			DSN=memory \
			SERVE_PUBLIC_HOST=127.0.0.1 \
			SERVE_ADMIN_HOST=127.0.0.1 \
			SERVE_PUBLIC_PORT="$pub" \
			SERVE_ADMIN_PORT="$adm" \
			SERVE_PUBLIC_BASE_URL="http://127.0.0.1:$pub/" \
			SERVE_ADMIN_BASE_URL="http://127.0.0.1:$adm/" \
			HASHERS_BCRYPT_COST=4 \
			"$KRATOS_BIN" serve --dev --sqa-opt-out -c "$ROOT/kratos/kratos.yml"
	) >"$logfile" 2>&1 &
	KRATOS_PID=$!
	wait_http "http://127.0.0.1:$pub/health/ready" "Kratos" "$KRATOS_PID" 60 "$logfile"
	wait_http "http://127.0.0.1:$adm/admin/health/ready" "Kratos admin" "$KRATOS_PID" 30 "$logfile"
}
