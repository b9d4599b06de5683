#!/usr/bin/env bash
# Submit a command as a Ray job and stream its logs; exit with the job's status.
#   bash jobs/submit.sh python -m jobs.pretrain --graphs /abs/graphs --run-dir /abs/run [flags]
# Without RAY_ADDRESS it uses the local head at 127.0.0.1 (starting one with this venv's ray if none answers).
# Ray 2.60 turns token authentication on for `ray start --head`; clients then need RAY_AUTH_MODE=token and read the
# token from ~/.ray/auth_token. Keep it that way: do not turn authentication off.
set -euo pipefail

cd "$(dirname "$0")/.."
VENV_BIN="$(pwd)/.venv/bin"
RAY="${VENV_BIN}/ray"
[[ -x "$RAY" ]] || RAY="$(command -v ray)" || { echo "submit.sh: no ray found; run 'make install' first" >&2; exit 2; }
[[ $# -gt 0 ]] || { echo "usage: bash jobs/submit.sh python -m jobs.pretrain --graphs ABS --run-dir ABS [flags]" >&2; exit 2; }

export RAY_AUTH_MODE="${RAY_AUTH_MODE:-token}"
DASHBOARD="http://127.0.0.1:8265"
if [[ -z "${RAY_ADDRESS:-}" ]]; then
    # Bounded: with a dead head named in Ray's temp folder, `ray status` would wait 40 s for it.
    if ! timeout 20 "$RAY" status >/dev/null 2>&1; then
        echo "submit.sh: no local Ray cluster answers; starting a head node with $RAY"
        # The job's `python` is the first on the head's PATH: put this venv first.
        PATH="${VENV_BIN}:$PATH" "$RAY" start --head --dashboard-host 127.0.0.1 --disable-usage-stats
        echo "submit.sh: the head stays up for later jobs (and a plain ray.init() on this machine joins it);" \
             "stop it with '$RAY stop' when done"
    else
        echo "submit.sh: reusing the running local Ray cluster"
    fi
    ADDRESS="$DASHBOARD"
else
    ADDRESS="$RAY_ADDRESS"
fi
if [[ "$RAY_AUTH_MODE" == "token" && ! -s "${RAY_AUTH_TOKEN_PATH:-$HOME/.ray/auth_token}" && -z "${RAY_AUTH_TOKEN:-}" ]]; then
    echo "submit.sh: RAY_AUTH_MODE=token but no token in ~/.ray/auth_token (or RAY_AUTH_TOKEN); copy the cluster's" \
         "token there" >&2
    exit 2
fi

# The job agent comes up a few seconds after the head ("No available agent to submit job"): wait until it answers.
AGENT_WAIT_S="${AGENT_WAIT_S:-90}"
deadline=$((SECONDS + AGENT_WAIT_S))
until "$RAY" job list --address "$ADDRESS" >/dev/null 2>&1; do
    if (( SECONDS >= deadline )); then
        echo "error: no Ray job agent answers at $ADDRESS after ${AGENT_WAIT_S} s — check the head" \
             "('$RAY status'), set RAY_ADDRESS to the cluster's dashboard address, or raise AGENT_WAIT_S" >&2
        exit 2
    fi
    sleep 2
done
echo "submit.sh: the job agent at $ADDRESS answers"

# .gitignore already keeps .venv, data and out out of the upload; the excludes say so explicitly.
EXCLUDES='{"excludes": [".venv/", "data/", "out/", "runs/", ".git/", "**/__pycache__/"]}'
JOB_ID="pretrain_$(date +%Y%m%d_%H%M%S)_$$"
echo "submit.sh: ray job submit --address $ADDRESS --submission-id $JOB_ID --working-dir . -- $*"
echo "submit.sh: if this terminal goes away the job keeps running: ray job logs -f $JOB_ID / ray job stop $JOB_ID" \
     "(with RAY_AUTH_MODE=token --address $ADDRESS)"
# Streams the logs until the job ends; exits 0 when it succeeded, 1 when it failed.
exec "$RAY" job submit --address "$ADDRESS" --submission-id "$JOB_ID" --working-dir . --runtime-env-json "$EXCLUDES" \
    -- "$@"
