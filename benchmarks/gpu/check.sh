#!/usr/bin/env bash
# The prepared GPU check (docs/gpu.md): <= 8 minutes on one H100/H200, no network.
#   bash benchmarks/gpu/check.sh            # on the GPU machine; writes benchmarks/RESULTS.md
#   bash benchmarks/gpu/check.sh --dry-run  # anywhere: wheels, imports and plan only (CI runs this)
# Packages the GPU machine lacks travel as wheels in .whl/ (benchmarks/gpu/fetch_wheels.sh):
# .whl/any/ (pure Python) and .whl/cp3XX/ (compiled, one folder per Python). The folder for
# the Python that runs here is installed into a private folder, never from the network.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON="${PYTHON:-python3}"
WHEELS="${GPU_CHECK_WHEELS:-.whl}"
DRY_RUN=""
[[ "${1:-}" == "--dry-run" ]] && DRY_RUN=1

# 1. the Python here, and the wheels for it
VERSION=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
TAG="cp${VERSION/./}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "check.sh: Python $VERSION here; gan-bench needs Python 3.11 or later (pyproject.toml)" >&2
    exit 2
fi
if [[ -d "$WHEELS" ]]; then
    if [[ ! -d "$WHEELS/$TAG" ]]; then
        have=$(cd "$WHEELS" && ls -d cp3* 2>/dev/null | tr '\n' ' ')
        echo "check.sh: no wheels for Python $VERSION in $WHEELS/$TAG (there: ${have:-none});" \
            "run benchmarks/gpu/fetch_wheels.sh" >&2
        exit 2
    fi
    shopt -s nullglob
    wheels=("$WHEELS"/any/*.whl "$WHEELS/$TAG"/*.whl)
    if [[ -n "$DRY_RUN" ]]; then
        echo "wheels: ${#wheels[@]} for Python $VERSION in $WHEELS/any and $WHEELS/$TAG (dry run: not installed)"
    elif ((${#wheels[@]})); then
        "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target /tmp/gan-bench-site "${wheels[@]}"
        export PYTHONPATH="/tmp/gan-bench-site${PYTHONPATH:+:$PYTHONPATH}"
        echo "wheels: ${#wheels[@]} installed for Python $VERSION"
    fi
else
    echo "wheels: no $WHEELS/ here; the installed packages are used"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

# 2. every import the check needs, tried at once: one line naming all that are missing
"$PYTHON" benchmarks/gpu/imports.py

# 3. the check
export GPU_CHECK_COMMAND="bash benchmarks/gpu/check.sh $*"
exec "$PYTHON" benchmarks/gpu/driver.py "$@"
