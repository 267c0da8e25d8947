#!/usr/bin/env bash
# Usage: tools/dist_train.sh CONFIG NGPUS [train.py options]
#   NGPUS processes on this machine (torchrun); without a GPU they train on CPU (gloo).
#   Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT.
#   Interpreter: $PYTHON if set, else the active virtualenv's python, else the repository's
#   .venv/bin/python (the README's install, no need to activate it), else python3.
#   A failed run prints each distinct error once (killed processes: exit -9 = likely out of memory).
set -euo pipefail
if [ $# -lt 2 ]; then
    sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
source "$(dirname "$0")/_python.sh"
PYTHONPATH="$ROOT:${PYTHONPATH:-}" OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-${OMP_NUM_THREADS:-1}} \
"$PYTHON" -m irkit.utils.launch \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" --master_port="$PORT" \
    "$ROOT/tools/train.py" "$CONFIG" --launcher pytorch "${@:3}"
