#!/usr/bin/env bash
# Local development loop (`make dev`): a local Ory Kratos (in memory), the service, and a
# demo user with a session token, then ready-to-paste curl lines. Ctrl-C stops everything.
#
# Environment (all optional):
#   PORT                 service port                        (default 8080)
#   KRATOS_PUBLIC_PORT   Kratos public API port              (default 4433)
#   KRATOS_ADMIN_PORT    Kratos admin API port               (default 4434)
#   DEMO_EMAIL           demo account                        (default demo@example.com)
#   DEMO_PASSWORD        demo password (local dev only!)     (default below)
#   DEV_SKIP_SERVICE=1   run only Kratos and the demo user (no service)
#   KRATOS_BIN           Kratos binary                       (default bin/kratos, built if missing)
#
# Logs go to .dev/kratos.log and .dev/service.log; the service log is followed on the
# terminal. Kratos uses DSN=memory: every start begins with no accounts, and the demo
# user is registered again.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

PORT="${PORT:-8080}"
KRATOS_PUBLIC_PORT="${KRATOS_PUBLIC_PORT:-4433}"
KRATOS_ADMIN_PORT="${KRATOS_ADMIN_PORT:-4434}"
DEMO_EMAIL="${DEMO_EMAIL:-demo@example.com}"
DEMO_PASSWORD="${DEMO_PASSWORD:-demo-Passw0rd-local-only}"
KRATOS_BIN="${KRATOS_BIN:-$ROOT/bin/kratos}"
DEV_DIR="$ROOT/.dev"
KRATOS_PUBLIC="http://127.0.0.1:${KRATOS_PUBLIC_PORT}"
KRATOS_ADMIN="http://127.0.0.1:${KRATOS_ADMIN_PORT}"
SERVICE="http://localhost:${PORT}"

KRATOS_PID=""
SERVICE_PID=""
TAIL_PID=""

SCRIPT=dev.sh
# shellcheck source=scripts/lib.sh
source "$ROOT/dev/scripts/lib.sh"

cleanup() {
	local rc=$?
	trap - INT TERM EXIT
	[ -n "$TAIL_PID" ] && kill "$TAIL_PID" 2>/dev/null || true
	if [ -n "$SERVICE_PID$KRATOS_PID" ]; then
		log "stopping"
	fi
	stop_pid "$SERVICE_PID" "the service"
	stop_pid "$KRATOS_PID" "Kratos"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

command -v curl >/dev/null || die "curl is needed"
command -v go >/dev/null || die "go is needed"
mkdir -p "$DEV_DIR"

# ---- Kratos ----------------------------------------------------------------------
if [ ! -x "$KRATOS_BIN" ]; then
	make -C "$ROOT" kratos
	KRATOS_BIN="$ROOT/bin/kratos"
fi

for p in "$KRATOS_PUBLIC_PORT" "$KRATOS_ADMIN_PORT" "$PORT"; do
	if port_busy "$p"; then
		die "port $p on 127.0.0.1 is in use (another 'make dev' or 'docker compose up'?). Stop it or set PORT / KRATOS_PUBLIC_PORT / KRATOS_ADMIN_PORT."
	fi
done

log "starting Kratos on $KRATOS_PUBLIC (admin $KRATOS_ADMIN), DSN=memory, log .dev/kratos.log"
start_kratos "$KRATOS_PUBLIC_PORT" "$KRATOS_ADMIN_PORT" "$DEV_DIR/kratos.log"
log "Kratos is ready"

# ---- service -----------------------------------------------------------------------
if [ "${DEV_SKIP_SERVICE:-}" = "1" ]; then
	log "DEV_SKIP_SERVICE=1: not starting the service"
elif [ ! -f "$ROOT/main.go" ]; then
	log "no main.go yet: not starting the service"
	DEV_SKIP_SERVICE=1
else
	# Built, then run as its own process (not `go run`, whose child outlives a killed
	# `go run`), so Ctrl-C stops exactly what was started.
	log "building the service (.dev/ory-gin-starter)"
	go build -o "$DEV_DIR/ory-gin-starter" .
	log "starting the service on $SERVICE, log .dev/service.log"
	ORY_SDK_URL="$KRATOS_PUBLIC" ORY_ADMIN_URL="$KRATOS_ADMIN" PORT="$PORT" \
		"$DEV_DIR/ory-gin-starter" >"$DEV_DIR/service.log" 2>&1 &
	SERVICE_PID=$!
	wait_http "http://127.0.0.1:${PORT}/healthz" "the service" "$SERVICE_PID" 30 "$DEV_DIR/service.log"
	log "the service is ready"
fi

# ---- demo user ---------------------------------------------------------------------
log "signing in $DEMO_EMAIL (registering it first if needed)"
TOKEN="$(ORY_PASSWORD="$DEMO_PASSWORD" go run ./dev/cmd/ory-session-token -url "$KRATOS_PUBLIC" -email "$DEMO_EMAIL" -register -q)" ||
	die "could not get a session token for $DEMO_EMAIL"
WHOAMI="$(curl -fsS -H "X-Session-Token: $TOKEN" "$KRATOS_PUBLIC/sessions/whoami")" || die "whoami with the new token failed"
SESSION_ID="$(printf '%s' "$WHOAMI" | sed -n 's/^{"id":"\([^"]*\)".*/\1/p')"
IDENTITY_ID="$(printf '%s' "$WHOAMI" | grep -o '"identity":{"id":"[^"]*"' | head -n 1 | sed 's/.*"id":"\([^"]*\)"/\1/')"
[ -n "$SESSION_ID" ] && [ -n "$IDENTITY_ID" ] || die "could not read the session and identity ids from whoami"

cat <<EOF

==============================================================================
 Local stack is up.
   service      $SERVICE$( [ "${DEV_SKIP_SERVICE:-}" = "1" ] && printf ' (NOT started)')
   Kratos       $KRATOS_PUBLIC (public)   $KRATOS_ADMIN (admin, no auth: local only)
   demo user    $DEMO_EMAIL / $DEMO_PASSWORD   (identity $IDENTITY_ID)
   logs         .dev/kratos.log  .dev/service.log

 Paste into another terminal:

TOKEN=$TOKEN

curl -s $SERVICE/healthz
curl -s $SERVICE/readyz
curl -s $SERVICE/openapi.yaml | head
curl -s -H "Authorization: Bearer \$TOKEN" $SERVICE/api/resource
curl -s -H "Authorization: Bearer \$TOKEN" $SERVICE/api/me
curl -s -H "Authorization: Bearer \$TOKEN" $SERVICE/api/me/sessions
curl -s -X DELETE -H "Authorization: Bearer \$TOKEN" $SERVICE/api/me/sessions/SESSION_ID   # one of your other sessions (this one is $SESSION_ID)
curl -s -X DELETE -H "Authorization: Bearer \$TOKEN" $SERVICE/api/me/sessions              # all your other sessions
curl -s -H "Authorization: Bearer \$TOKEN" $SERVICE/api/admin/identities                   # 403 until you are an admin

 Make the demo user an admin (Kratos admin API; metadata_public.role=admin):

curl -s -X PATCH $KRATOS_ADMIN/admin/identities/$IDENTITY_ID -H 'Content-Type: application/json' -d '[{"op":"add","path":"/metadata_public","value":{"role":"admin"}}]'

 (The service may reuse a validated session for up to SESSION_CACHE_TTL, so the new role
 can take that long to show.)

 Another session (e.g. to revoke from this one):
ORY_PASSWORD='$DEMO_PASSWORD' go run ./dev/cmd/ory-session-token -url $KRATOS_PUBLIC -email $DEMO_EMAIL
 A JWT of this session (tokenizer template jwt_example, verify with kratos/dev-only.jwks.public.json):
curl -s -H "X-Session-Token: \$TOKEN" "$KRATOS_PUBLIC/sessions/whoami?tokenize_as=jwt_example"
==============================================================================

EOF

if [ -n "$SERVICE_PID" ]; then
	log "following .dev/service.log; Ctrl-C stops the service and Kratos"
	tail -n 0 -f "$DEV_DIR/service.log" &
	TAIL_PID=$!
else
	log "Ctrl-C stops Kratos"
fi

# Until Ctrl-C, or until one of them exits on its own.
while kill -0 "$KRATOS_PID" 2>/dev/null && { [ -z "$SERVICE_PID" ] || kill -0 "$SERVICE_PID" 2>/dev/null; }; do
	sleep 1
done
if ! kill -0 "$KRATOS_PID" 2>/dev/null; then
	tail -n 20 "$DEV_DIR/kratos.log" >&2 || true
	die "Kratos exited (log: .dev/kratos.log)"
fi
tail -n 20 "$DEV_DIR/service.log" >&2 || true
die "the service exited (log: .dev/service.log)"
