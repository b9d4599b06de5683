#!/usr/bin/env bash
# Submit a command as a Ray job and stream its logs; exit with the job's status.
#   bash jobs/submit.sh python -m jobs.pretrain --graphs /abs/graphs --run-dir /abs/run [flags]
# With RAY_ADDRESS (a cluster's dashboard address, http://HOST:8265) the job goes there and nothing is started or
# stopped. Without it the script starts a Ray head of its own with this venv's ray, on free ports and with its own
# temp folder (so a plain ray.init() elsewhere on the machine neither finds nor joins it), and stops that head, and
# only that one, when it ends: the job lives as long as this script.
# Ray 2.60 turns token authentication on for `ray start --head`; clients then need RAY_AUTH_MODE=token and read the
# token from ~/.ray/auth_token. Keep it that way: do not turn authentication off.
set -euo pipefail

cd "$(dirname "$0")/.."
VENV_BIN="$(pwd)/.venv/bin"
RAY="${VENV_BIN}/ray"
[[ -x "$RAY" ]] || RAY="$(command -v ray)" || { echo "error: no ray found — run 'make install' first" >&2; exit 2; }
[[ $# -gt 0 ]] || { echo "usage: bash jobs/submit.sh python -m jobs.pretrain --graphs ABS --run-dir ABS [flags]" >&2; exit 2; }

export RAY_AUTH_MODE="${RAY_AUTH_MODE:-token}"
HEAD_PID=""
HEAD_TEMP=""

stop_head() {
    if [[ -n "$HEAD_PID" ]] && kill -0 "$HEAD_PID" 2>/dev/null; then
        echo "submit.sh: stopping the Ray head it started (pid $HEAD_PID)"
        # `ray start --block` stops the processes of its own node on SIGTERM; `ray stop` would stop every Ray on
        # the machine, other people's included.
        kill -TERM "$HEAD_PID"
        wait "$HEAD_PID" 2>/dev/null || true
    fi
    [[ -z "$HEAD_TEMP" ]] || rm -rf "$HEAD_TEMP"
}

if [[ -z "${RAY_ADDRESS:-}" ]]; then
    read -r GCS_PORT DASHBOARD_PORT AGENT_PORT CLIENT_PORT < <("${VENV_BIN}/python" -c '
import socket
sockets = [socket.socket() for _ in range(4)]
for s in sockets:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in sockets))')
    # Short: Ray puts its unix sockets under the temp folder, and their paths may not exceed 107 characters.
    HEAD_TEMP="$(mktemp -d /tmp/ray-submit-XXXXXX)"
    trap stop_head EXIT
    echo "submit.sh: starting a Ray head of its own (dashboard http://127.0.0.1:$DASHBOARD_PORT, temp folder" \
         "$HEAD_TEMP, log $HEAD_TEMP/head.log); set RAY_ADDRESS to submit to a running cluster instead"
    # The job's `python` is the first on the head's PATH: put this venv first. RAY_API_SERVER_ADDRESS: the workers'
    # state API asks this head, not another Ray on the machine (pipeline/ray_connect.py says why). No drain on SIGTERM
    # (it waits up to 30 s for Serve replicas; this head runs one job, which has ended or is being interrupted).
    PATH="${VENV_BIN}:$PATH" RAY_API_SERVER_ADDRESS="http://127.0.0.1:$DASHBOARD_PORT" \
    RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S=0 "$RAY" start --head --block --disable-usage-stats --temp-dir "$HEAD_TEMP" \
        --port "$GCS_PORT" --dashboard-host 127.0.0.1 --dashboard-port "$DASHBOARD_PORT" \
        --dashboard-agent-listen-port "$AGENT_PORT" --ray-client-server-port "$CLIENT_PORT" \
        >"$HEAD_TEMP/head.log" 2>&1 &
    HEAD_PID=$!
    ADDRESS="http://127.0.0.1:$DASHBOARD_PORT"
else
    ADDRESS="$RAY_ADDRESS"
fi

# The job agent comes up a few seconds after the head ("No available agent to submit job"): wait until it answers.
AGENT_WAIT_S="${AGENT_WAIT_S:-90}"
deadline=$((SECONDS + AGENT_WAIT_S))
until "$RAY" job list --address "$ADDRESS" >/dev/null 2>&1; do
    if [[ -n "$HEAD_PID" ]] && ! kill -0 "$HEAD_PID" 2>/dev/null; then
        tail -n 20 "$HEAD_TEMP/head.log" >&2 || true
        echo "error: the Ray head this script started exited (its log above) — fix what it names and rerun" >&2
        HEAD_PID=""
        exit 2
    fi
    if (( SECONDS >= deadline )); then
        echo "error: no Ray job agent answers at $ADDRESS after ${AGENT_WAIT_S} s — set RAY_ADDRESS to the" \
             "cluster's dashboard address (http://HOST:8265), check the cluster, or raise AGENT_WAIT_S" >&2
        exit 2
    fi
    sleep 2
done
echo "submit.sh: the job agent at $ADDRESS answers"
if [[ "$RAY_AUTH_MODE" == "token" && ! -s "${RAY_AUTH_TOKEN_PATH:-$HOME/.ray/auth_token}" && -z "${RAY_AUTH_TOKEN:-}" ]]; then
    echo "error: RAY_AUTH_MODE=token but no token in ~/.ray/auth_token (or RAY_AUTH_TOKEN) — copy the cluster's" \
         "token there" >&2
    exit 2
fi

# .gitignore already keeps .venv, data and out out of the upload; the excludes say so explicitly, so Ray's default
# excludes (.git, .venv, venv, __pycache__) and the warning it prints for each of them are turned off.
EXCLUDES='{"excludes": [".venv/", "venv/", "data/", "out/", "runs/", ".git/", "**/__pycache__/"]}'
export RAY_OVERRIDE_RUNTIME_ENV_DEFAULT_EXCLUDES=""
JOB_ID="pretrain_$(date +%Y%m%d_%H%M%S)_$$"
echo "submit.sh: ray job submit --address $ADDRESS --submission-id $JOB_ID --working-dir . -- $*"
if [[ -z "$HEAD_PID" ]]; then
    echo "submit.sh: if this terminal goes away the job keeps running: ray job logs -f $JOB_ID / ray job stop" \
         "$JOB_ID (with RAY_AUTH_MODE=token --address $ADDRESS)"
fi
# Streams the logs until the job ends; exits 0 when it succeeded, 1 when it failed.
status=0
"$RAY" job submit --address "$ADDRESS" --submission-id "$JOB_ID" --working-dir . --runtime-env-json "$EXCLUDES" \
    -- "$@" || status=$?
exit "$status"
