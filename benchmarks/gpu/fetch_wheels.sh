#!/usr/bin/env bash
# Download, here (with network), the wheels benchmarks/gpu/check.sh installs on the GPU
# machine, which has torch, numpy, scipy, pandas, seaborn, scikit-learn... but not these.
# They land in .whl/ (git-ignored), to be carried with the run (64 MiB limit in all).
# Versions: the ones this project's CI installs (Python 3.12, manylinux x86-64 there).
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON="${PYTHON:-python3}"
WHEELS=(
    pydantic==2.14.4 pydantic_core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5
    typing_extensions==4.16.0 torch-fidelity==0.4.0 optuna==5.0.0 alembic==1.20.1
    SQLAlchemy==2.1.9 colorlog==6.12.0 Mako==1.4.3 greenlet==3.5.6
)
PLATFORMS=()
for tag in manylinux_2_28 manylinux_2_27 manylinux_2_24 manylinux_2_17 manylinux2014 manylinux1; do
    PLATFORMS+=(--platform "${tag}_x86_64")
done
mkdir -p .whl
for wheel in "${WHEELS[@]}"; do
    "$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp "${PLATFORMS[@]}" -d .whl "$wheel"
done
du -sh .whl
