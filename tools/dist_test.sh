#!/usr/bin/env bash
# Usage: tools/dist_test.sh CONFIG CHECKPOINT NGPUS [test.py options]
#   NGPUS processes on this machine (torchrun); without a GPU they run on CPU (gloo).
#   Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT.
#   Interpreter: $PYTHON if set, else the active virtualenv's python, else the repository's
#   .venv/bin/python (the README's install, no need to activate it), else python3.
set -euo pipefail
if [ $# -lt 3 ]; then
    sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
source "$(dirname "$0")/_python.sh"
PYTHONPATH="$ROOT:${PYTHONPATH:-}" OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-${OMP_NUM_THREADS:-1}} \
"$PYTHON" -m irkit.utils.launch \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" --master_port="$PORT" \
    "$ROOT/tools/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "${@:4}"
