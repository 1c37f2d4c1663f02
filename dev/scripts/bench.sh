#!/usr/bin/env bash
# Load benchmark (`make bench`): starts a local Ory Kratos (in memory) and three instances
# of the service on loopback, measures them with wrk, and prints one table:
#
#   healthz        GET /healthz, no auth: the floor of the stack (gin, middleware, HTTP)
#   cached         GET /api/resource, session cache on (default TTL)
#   uncached       GET /api/resource, SESSION_CACHE_TTL=0, one token on every connection:
#                  concurrent checks of one token share one whoami (singleflight)
#   uncached-n     the same with 4 x WRK_CONNS sessions used in turn: about one whoami
#                  per request, the pass-through cost the ratio is about
#   jwt            GET /api/resource, bearer = session JWT verified locally (ORY_JWKS_URL)
#   whoami-direct  Kratos GET /sessions/whoami itself, X-Session-Token: what uncached wraps
#
# then the ratios the README promises, a burst of concurrent requests that carry one new
# session token (counting the whoami calls Kratos saw in its request log and the
# service's own metric), and the Go benchmarks of the middleware hot path.
#
# Environment (all optional):
#   WRK_THREADS      wrk threads                          (default 2)
#   WRK_CONNS        wrk connections                      (default 32)
#   WRK_DURATION     measured run per target and round    (default 5s)
#   BENCH_ROUNDS     rounds over all targets; rows report the median (default 3)
#   WRK_WARMUP       warm-up run per target, discarded    (default 3s)
#   BURST_N          concurrent requests in the burst     (default 1000)
#   BENCH_PORT_BASE  first port tried; free ports upward  (default 39400)
#   BENCH_SKIP_GO=1  skip the Go benchmarks
#   BENCH_PIN=0      let wrk, Kratos and the service share every CPU (default: Kratos
#                    on CPU 1, the rest on CPU 0, as if Ory ran on its own machine)
#   KRATOS_BIN       Kratos binary                        (default bin/kratos)
#
# Every process listens on 127.0.0.1 and is stopped on exit. Raw outputs (wrk, logs,
# metrics, go test) are kept in .dev/bench/ for inspection.
#
# The load generator, Kratos and the service share the machine's CPUs: numbers are for
# comparing rows with each other on one machine, not absolute capacity.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

WRK_THREADS="${WRK_THREADS:-2}"
WRK_CONNS="${WRK_CONNS:-32}"
WRK_DURATION="${WRK_DURATION:-5s}"
BENCH_ROUNDS="${BENCH_ROUNDS:-3}"
WRK_WARMUP="${WRK_WARMUP:-3s}"
BURST_N="${BURST_N:-1000}"
BENCH_PORT_BASE="${BENCH_PORT_BASE:-39400}"
KRATOS_BIN="${KRATOS_BIN:-$ROOT/bin/kratos}"
OUT="$ROOT/.dev/bench"
BIN="$ROOT/.dev"
PASSWORD="bench-Passw0rd-local-only"

PIDS=()

SCRIPT=bench.sh
# shellcheck source=scripts/lib.sh
source "$ROOT/dev/scripts/lib.sh"

stop_all() {
	local pid
	for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
	PIDS=()
	stop_pid "${KRATOS_PID:-}" Kratos
}

cleanup() {
	local rc=$?
	trap - INT TERM EXIT
	stop_all
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

NEXT_PORT="$BENCH_PORT_BASE"
alloc_port() { # alloc_port VAR: sets VAR to the next free port at or above NEXT_PORT
	while port_busy "$NEXT_PORT"; do NEXT_PORT=$((NEXT_PORT + 1)); done
	printf -v "$1" '%s' "$NEXT_PORT"
	NEXT_PORT=$((NEXT_PORT + 1))
}

# ---- tools -------------------------------------------------------------------------
if ! command -v wrk >/dev/null; then
	log "installing wrk (apt-get)"
	[ "$(id -u)" = 0 ] || die "wrk is missing; install it (apt-get install wrk) or run as root"
	apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null ||
		die "could not install wrk"
fi
command -v curl >/dev/null || die "curl is needed"
command -v go >/dev/null || die "go is needed"
[ -x "$KRATOS_BIN" ] || die "no Kratos binary at $KRATOS_BIN (run make kratos)"

rm -rf "$OUT"
mkdir -p "$OUT"
log "building the service, the token tool and the burst tool into .dev/"
go build -o "$BIN/ory-gin-starter" .
go build -o "$BIN/ory-session-token" ./dev/cmd/ory-session-token
go build -o "$BIN/burst" ./dev/cmd/burst

# ---- Kratos ------------------------------------------------------------------------
alloc_port KRATOS_PUBLIC_PORT
alloc_port KRATOS_ADMIN_PORT
KRATOS_PUBLIC="http://127.0.0.1:$KRATOS_PUBLIC_PORT"
KRATOS_ADMIN="http://127.0.0.1:$KRATOS_ADMIN_PORT"
KRATOS_LOG="$OUT/kratos.log"
# Topology. In production Ory runs on other machines (Ory Network), so by default Kratos
# gets CPU 1 to itself and the service and wrk share CPU 0: the service's own CPU is
# then not taken out of Ory's, as it would be if all three shared both CPUs. With
# BENCH_PIN=0 (or one CPU) everything shares every CPU.
APP_PIN=()
KRATOS_CPUS=""
if [ "${BENCH_PIN:-1}" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
	KRATOS_CPUS=1
	APP_PIN=(taskset -c 0)
	TOPOLOGY="Kratos pinned to CPU 1; the service and wrk on CPU 0"
else
	TOPOLOGY="wrk, Kratos and the service share all $(nproc) CPUs"
fi
log "starting Kratos on $KRATOS_PUBLIC (admin $KRATOS_ADMIN), DSN=memory; $TOPOLOGY"
start_kratos "$KRATOS_PUBLIC_PORT" "$KRATOS_ADMIN_PORT" "$KRATOS_LOG"

# ---- the service, three ways -------------------------------------------------------
# A clean environment (env -i) and a working directory without a .env, so nothing from
# the caller's shell or a developer's .env changes what is measured. All instances log
# at warn: the per-request info line would otherwise dominate, and equal settings keep
# the ratios fair.
JWKS_URL="file://$ROOT/kratos/dev-only.jwks.public.json"
start_service() { # start_service NAME PORT [VAR=value...]
	local name="$1" port="$2"
	shift 2
	(
		cd "$OUT"
		exec "${APP_PIN[@]}" env -i PATH="$PATH" HOME="${HOME:-/tmp}" \
			ORY_SDK_URL="$KRATOS_PUBLIC" ORY_ADMIN_URL="$KRATOS_ADMIN" \
			PORT="$port" LOG_LEVEL=warn "$@" \
			"$BIN/ory-gin-starter"
	) >"$OUT/service-$name.log" 2>&1 &
	local pid=$!
	PIDS+=("$pid")
	wait_http "http://127.0.0.1:$port/healthz" "service ($name)" "$pid" 30 "$OUT/service-$name.log"
}
alloc_port CACHED_PORT
alloc_port UNCACHED_PORT
alloc_port JWT_PORT
log "starting the service: cached :$CACHED_PORT, uncached :$UNCACHED_PORT, jwt :$JWT_PORT (LOG_LEVEL=warn)"
start_service cached "$CACHED_PORT"
start_service uncached "$UNCACHED_PORT" SESSION_CACHE_TTL=0
start_service jwt "$JWT_PORT" ORY_JWKS_URL="$JWKS_URL" ORY_JWT_TEMPLATE=jwt_example

# ---- credentials -------------------------------------------------------------------
new_token() { # new_token EMAIL [-tokenize-as T]: registers (or logs in) and prints the token
	local email="$1"
	shift
	ORY_PASSWORD="$PASSWORD" "$BIN/ory-session-token" -url "$KRATOS_PUBLIC" -email "$email" -register -q "$@"
}
RUN_ID="$(date +%s)-$$"
log "registering bench-$RUN_ID@example.com"
TOKEN="$(new_token "bench-$RUN_ID@example.com")" || die "could not get a session token"
JWT="$(new_token "bench-$RUN_ID@example.com" -tokenize-as jwt_example)" || die "could not get a session JWT"
case "$TOKEN" in ory_st_*) ;; *) die "unexpected session token shape" ;; esac
case "$JWT" in eyJ*.*.*) ;; *) die "unexpected JWT shape" ;; esac
# Four sessions per connection: wrk cannot pin a token to a connection, and fewer
# tokens let two requests in flight share one (and one whoami).
NTOKENS=$((WRK_CONNS * 4))
log "signing in $NTOKENS more sessions for uncached-n"
for i in $(seq 1 "$NTOKENS"); do new_token "bench-$RUN_ID@example.com"; done >"$OUT/tokens.txt" ||
	die "could not get the per-connection session tokens"
# wrk: each thread walks the token list with a stride of the thread count, so the
# requests in flight carry different tokens.
cat >"$OUT/tokens.lua" <<'LUA'
local tokens, threads, n = {}, 0, 0
for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
function setup(thread) threads = threads + 1; thread:set("id", threads - 1) end
function init(args) stride = tonumber(os.getenv("WRK_THREADS")) end
function request()
	local t = tokens[((n * stride + id) % #tokens) + 1]
	n = n + 1
	return wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. t })
end
LUA

# Kratos logs every request at info in text format, twice ("started handling request"
# and "completed handling request", each with "path:/sessions/whoami"). One whoami is
# one "completed" line with that path; checked here against a known single call.
kratos_whoami_count() {
	grep -F 'msg=completed handling request' "$KRATOS_LOG" | grep -cF 'path:/sessions/whoami ' || true
}
# ory_session_checks_seconds_count summed over outcomes: whoami calls the service made.
service_whoami_count() { # service_whoami_count PORT
	curl -fsS "http://127.0.0.1:$1/metrics" | awk '/^ory_session_checks_seconds_count\{/ { s += $2 } END { printf "%d\n", s }'
}
cache_lookups() { # cache_lookups PORT RESULT
	curl -fsS "http://127.0.0.1:$1/metrics" | awk -v r="$2" '$1 == "session_cache_lookups_total{result=\"" r "\"}" { s += $2 } END { printf "%d\n", s }'
}

before="$(kratos_whoami_count)"
curl -fsS -o /dev/null -H "X-Session-Token: $TOKEN" "$KRATOS_PUBLIC/sessions/whoami" || die "whoami with the new token failed"
sleep 0.2
after="$(kratos_whoami_count)"
[ "$((after - before))" -eq 1 ] ||
	die "one whoami call added $((after - before)) matching lines to $KRATOS_LOG; the Kratos request log format is not what this script counts"

# Sanity: every target answers 200 with its credential before any load.
check_200() { # check_200 NAME URL HEADER
	local code
	code="$(curl -sS -o "$OUT/check-$1.json" -w '%{http_code}' -H "$3" "$2")" || die "$1: $2 did not answer"
	[ "$code" = 200 ] || die "$1: $2 answered $code, want 200 (body: $OUT/check-$1.json)"
}

NAMES=(healthz cached jwt uncached uncached-n whoami-direct)
declare -A URL HDR LABEL
URL[healthz]="http://127.0.0.1:$CACHED_PORT/healthz"
HDR[healthz]="Accept: application/json"
LABEL[healthz]="service /healthz (no auth)"
URL[cached]="http://127.0.0.1:$CACHED_PORT/api/resource"
HDR[cached]="Authorization: Bearer $TOKEN"
LABEL[cached]="service /api/resource, cached"
URL[uncached]="http://127.0.0.1:$UNCACHED_PORT/api/resource"
HDR[uncached]="Authorization: Bearer $TOKEN"
LABEL[uncached]="service /api/resource, TTL=0, 1 tok"
URL[uncached-n]="http://127.0.0.1:$UNCACHED_PORT/api/resource"
HDR[uncached-n]="Accept: application/json"
LABEL[uncached-n]="service /api/resource, TTL=0, N tok"
URL[jwt]="http://127.0.0.1:$JWT_PORT/api/resource"
HDR[jwt]="Authorization: Bearer $JWT"
LABEL[jwt]="service /api/resource, JWT"
URL[whoami-direct]="$KRATOS_PUBLIC/sessions/whoami"
HDR[whoami-direct]="X-Session-Token: $TOKEN"
LABEL[whoami-direct]="Kratos /sessions/whoami direct"
for n in "${NAMES[@]}"; do
	[ "$n" = uncached-n ] && continue
	check_200 "$n" "${URL[$n]}" "${HDR[$n]}"
done
check_200 uncached-n "${URL[uncached-n]}" "Authorization: Bearer $(head -n 1 "$OUT/tokens.txt")"
[ "$(sort -u "$OUT/tokens.txt" | grep -c '^ory_st_')" -eq "$NTOKENS" ] || die "the $NTOKENS session tokens are not all distinct"
jwt_lookups_before="$(cache_lookups "$JWT_PORT" jwt)"
jwt_whoami_before="$(service_whoami_count "$JWT_PORT")"

# ---- load --------------------------------------------------------------------------
# wrk prints latencies as 123.45us / 1.23ms / 1.02s / 1.00m; the table is in ms.
to_ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000; else if (u != "ms") n = -1
		printf "%.2f", n }'
}
declare -A RPS P50 P99 BAD PERREQ KCALLS KREQS
export BENCH_TOKENS="$OUT/tokens.txt" WRK_THREADS
wrk_args() { # wrk_args NAME: the script option for targets that rotate tokens
	[ "$1" = uncached-n ] && echo "-s $OUT/tokens.lua" || true
}
log "warm-up: wrk -t$WRK_THREADS -c$WRK_CONNS -d$WRK_WARMUP per target"
for n in "${NAMES[@]}"; do
	# shellcheck disable=SC2046
	"${APP_PIN[@]}" wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$WRK_WARMUP" $(wrk_args "$n") -H "${HDR[$n]}" "${URL[$n]}" >"$OUT/wrk-$n.warmup.txt" 2>&1
done
# Rounds visit every target in turn, so a slow patch of the machine (a noisy neighbour,
# frequency changes) hits all rows alike; each row reports its median round.
log "wrk -t$WRK_THREADS -c$WRK_CONNS -d$WRK_DURATION --latency per target, $BENCH_ROUNDS rounds"
for r in $(seq 1 "$BENCH_ROUNDS"); do
	for n in "${NAMES[@]}"; do
		sleep 0.3
		k0="$(kratos_whoami_count)"
		f="$OUT/wrk-$n.$r.txt"
		# shellcheck disable=SC2046
		"${APP_PIN[@]}" wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$WRK_DURATION" --latency $(wrk_args "$n") -H "${HDR[$n]}" "${URL[$n]}" >"$f" 2>&1
		sleep 0.3
		reqs="$(awk '/ requests in / { print $1 }' "$f")"
		KCALLS[$n]=$((${KCALLS[$n]:-0} + $(kratos_whoami_count) - k0))
		KREQS[$n]=$((${KREQS[$n]:-0} + ${reqs:-0}))
		# Anything but 2xx/3xx, and socket errors, would make a row meaningless: show them.
		BAD[$n]=$((${BAD[$n]:-0} + $(awk '/Non-2xx or 3xx responses:/ { b += $NF } /Socket errors:/ { gsub(/,/, ""); b += $4 + $6 + $8 + $10 } END { printf "%d", b }' "$f")))
		grep -q '^Requests/sec:' "$f" || die "could not read wrk's output for $n ($f)"
	done
done
for n in "${NAMES[@]}"; do
	# The median round by req/s gives the row: its req/s, p50 and p99.
	med="$(for r in $(seq 1 "$BENCH_ROUNDS"); do awk -v r="$r" '/^Requests\/sec:/ { print $2, r }' "$OUT/wrk-$n.$r.txt"; done |
		sort -n | awk -v m=$(((BENCH_ROUNDS + 1) / 2)) 'NR == m { print $2 }')"
	f="$OUT/wrk-$n.$med.txt"
	RPS[$n]="$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$f")"
	P50[$n]="$(to_ms "$(awk '$1 == "50%" { print $2 }' "$f")")"
	P99[$n]="$(to_ms "$(awk '$1 == "99%" { print $2 }' "$f")")"
	PERREQ[$n]="$(awk -v k="${KCALLS[$n]}" -v r="${KREQS[$n]}" 'BEGIN { printf "%.3f", (r > 0 ? k / r : 0) }')"
done
jwt_lookups="$(($(cache_lookups "$JWT_PORT" jwt) - jwt_lookups_before))"
jwt_whoami="$(($(service_whoami_count "$JWT_PORT") - jwt_whoami_before))"

# ---- burst: N concurrent requests, one token never seen before ---------------------
log "burst: $BURST_N concurrent requests with a new token to the cached instance"
BURST_TOKEN="$(new_token "bench-burst-$RUN_ID@example.com")" || die "could not get a session token for the burst"
k0="$(kratos_whoami_count)"
s0="$(service_whoami_count "$CACHED_PORT")"
h0="$(cache_lookups "$CACHED_PORT" hit)"
m0="$(cache_lookups "$CACHED_PORT" miss)"
BURST_HEADER="Authorization: Bearer $BURST_TOKEN" "$BIN/burst" -url "http://127.0.0.1:$CACHED_PORT/api/resource" -n "$BURST_N" \
	>"$OUT/burst.txt" 2>&1 || { cat "$OUT/burst.txt" >&2; die "the burst failed"; }
sleep 0.5 # Kratos writes its log line after the answer
K_DELTA="$(($(kratos_whoami_count) - k0))"
S_DELTA="$(($(service_whoami_count "$CACHED_PORT") - s0))"
H_DELTA="$(($(cache_lookups "$CACHED_PORT" hit) - h0))"
M_DELTA="$(($(cache_lookups "$CACHED_PORT" miss) - m0))"

# The per-request log line is info: at warn the logs must hold nothing per request.
# Requests wrk leaves in flight when it stops are cancelled; those are logged with
# client_gone and counted apart.
LOGLINES=0
CANCELLED=0
for n in cached uncached jwt; do
	LOGLINES=$((LOGLINES + $(grep '"level":"INFO","msg":"request"' "$OUT/service-$n.log" | grep -vc '"client_gone":true' || true)))
	CANCELLED=$((CANCELLED + $(grep -c '"client_gone":true' "$OUT/service-$n.log" || true)))
done
stop_all

# ---- report ------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { print (r >= t ? "PASS" : "MISS") }'; }
{
	echo
	echo "make bench: wrk -t$WRK_THREADS -c$WRK_CONNS -d$WRK_DURATION --latency, median of $BENCH_ROUNDS rounds; $TOPOLOGY; $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo
	printf '%-36s %8s %8s %8s %7s %10s\n' "target" "req/s" "p50 ms" "p99 ms" "errors" "whoami/req"
	printf '%-36s %8s %8s %8s %7s %10s\n' "------------------------------------" "--------" "--------" "--------" "-------" "----------"
	for n in "${NAMES[@]}"; do
		printf '%-36s %8s %8s %8s %7s %10s\n' "${LABEL[$n]}" "${RPS[$n]}" "${P50[$n]}" "${P99[$n]}" "${BAD[$n]}" "${PERREQ[$n]}"
	done
	echo "(whoami/req: whoami calls in Kratos's request log during the measured run / requests wrk completed)"
	echo
	printf '%-32s %6s   %-8s %s\n' "ratio (req/s)" "value" "target" "result"
	r="$(ratio "${RPS[cached]}" "${RPS[healthz]}")"
	printf '%-32s %6s   %-8s %s\n' "cached / healthz" "$r" ">= 0.90" "$(verdict "$r" 0.9)"
	r="$(ratio "${RPS[uncached-n]}" "${RPS[whoami-direct]}")"
	printf '%-32s %6s   %-8s %s\n' "uncached (N tok) / whoami-direct" "$r" ">= 0.90" "$(verdict "$r" 0.9)"
	r="$(ratio "${RPS[uncached]}" "${RPS[whoami-direct]}")"
	printf '%-32s %6s   %-8s %s\n' "uncached (1 tok) / whoami-direct" "$r" "(info)" "coalesced by singleflight, not a pass-through"
	r="$(ratio "${RPS[jwt]}" "${RPS[healthz]}")"
	printf '%-32s %6s   %-8s %s\n' "jwt / healthz" "$r" ">= 0.80" "$(verdict "$r" 0.8)"
	echo "(jwt run: $jwt_lookups JWT checks answered locally, $jwt_whoami whoami calls by the service)"
	echo
	echo "burst: $BURST_N concurrent GET /api/resource, one new session token, cached instance"
	sed 's/^/  /' "$OUT/burst.txt"
	printf '  %-44s %5s   %s\n' "whoami calls seen by Kratos (request log)" "$K_DELTA" "target 1: $([ "$K_DELTA" -eq 1 ] && echo PASS || echo MISS)"
	printf '  %-44s %5s\n' "ory_session_checks_seconds_count delta" "$S_DELTA"
	printf '  %-44s %5s\n' "session_cache_lookups_total hit / miss" "$H_DELTA / $M_DELTA"
	echo
	if [ "$LOGLINES" -eq 0 ]; then
		echo "service info request log lines during the run: 0 (LOG_LEVEL=warn silences them on every instance);"
		echo "$CANCELLED requests cancelled by wrk at the end of a run were logged (client_gone, at info)"
	else
		echo "WARNING: $LOGLINES per-request log lines were written at LOG_LEVEL=warn (see $OUT/service-*.log)"
	fi
} | tee "$OUT/summary.txt"

# ---- Go benchmarks of the hot path -------------------------------------------------
if [ "${BENCH_SKIP_GO:-}" != "1" ]; then
	echo
	echo "go test -run '^\$' -bench . -benchmem ./auth/"
	go test -run '^$' -bench . -benchmem ./auth/ >"$OUT/gobench.txt" 2>&1 ||
		{ cat "$OUT/gobench.txt" >&2; die "go benchmarks failed"; }
	grep -E '^(Benchmark|cpu:)' "$OUT/gobench.txt" | tee -a "$OUT/summary.txt"
fi
echo
echo "raw outputs: .dev/bench/"
