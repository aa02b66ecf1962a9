#!/usr/bin/env bash
# The prepared GPU check (docs/gpu.md): <= 8 minutes on one H100/H200, no network.
#   bash benchmarks/gpu/check.sh            # on the GPU machine; writes benchmarks/RESULTS.md
#   bash benchmarks/gpu/check.sh --dry-run  # anywhere: imports and plan only (CI runs this)
# Packages the GPU machine lacks travel as wheels in .whl/ (benchmarks/gpu/fetch_wheels.sh);
# they are installed into a private folder, never from the network.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON="${PYTHON:-python3}"
if [[ "${1:-}" != "--dry-run" ]] && compgen -G ".whl/*.whl" >/dev/null; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/gan-bench-site .whl/*.whl
    export PYTHONPATH="/tmp/gan-bench-site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export GPU_CHECK_COMMAND="bash benchmarks/gpu/check.sh $*"
exec "$PYTHON" benchmarks/gpu/driver.py "$@"
