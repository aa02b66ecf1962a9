#!/usr/bin/env bash
# Download, here (with network), the wheels benchmarks/gpu/check.sh installs on the GPU
# machine, whose image may lack them; check.sh picks the folder for the Python it finds there.
#   .whl/any/     pure-Python wheels (any Python)
#   .whl/cp3XX/   compiled wheels (pydantic_core, greenlet, SQLAlchemy) for Python 3.XX
# Pythons 3.11-3.13: gan-bench needs 3.11 or later (pyproject.toml), so check.sh refuses 3.10
# in one line rather than carrying wheels for it. .whl/ is git-ignored and travels with the run
# (64 MiB limit in all). Versions: the ones this project's CI installs.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON="${PYTHON:-python3}"
PYTHONS=(3.11 3.12 3.13)
WHEELS=(
    pydantic==2.14.4 pydantic_core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5
    typing_extensions==4.16.0 torch-fidelity==0.4.0 optuna==5.0.0 alembic==1.20.1
    SQLAlchemy==2.1.9 colorlog==6.12.0 Mako==1.4.3 greenlet==3.5.6 PyYAML==6.0.4
    pytest==9.2.0 pluggy==1.7.0 iniconfig==2.3.1 packaging==26.4 tqdm==4.70.1
)
PLATFORMS=()
for tag in manylinux_2_28 manylinux_2_27 manylinux_2_24 manylinux_2_17 manylinux2014 manylinux1; do
    PLATFORMS+=(--platform "${tag}_x86_64")
done
mkdir -p .whl/any
for version in "${PYTHONS[@]}"; do
    folder=".whl/cp${version/./}"
    mkdir -p "$folder"
    for wheel in "${WHEELS[@]}"; do
        "$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version "$version" \
            --implementation cp "${PLATFORMS[@]}" -d "$folder" "$wheel"
    done
    for pure in "$folder"/*-none-any.whl; do
        [[ -e "$pure" ]] && mv -f "$pure" .whl/any/
    done
done
du -sh .whl/any .whl/cp3*
