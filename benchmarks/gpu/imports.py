"""The first step of benchmarks/gpu/check.sh: every module the check imports, tried at once.

Standard library only, so it runs before anything that could be missing. It prints one line:
every missing import together (exit 2), or that all are present, so a GPU run never stops at
the first import error of many. `IMPORTS` maps each distribution the check needs (this
project's dependencies and pytest for the gpu tests) to the module it imports.
"""

from __future__ import annotations

import importlib
import platform
import sys

IMPORTS = {
    "torch": "torch",
    "torchvision": "torchvision",
    "torch-fidelity": "torch_fidelity",
    "optuna": "optuna",
    "pandas": "pandas",
    "seaborn": "seaborn",
    "matplotlib": "matplotlib",
    "pydantic": "pydantic",
    "pydantic_core": "pydantic_core",
    "scikit-learn": "sklearn",
    "scipy": "scipy",
    "tqdm": "tqdm",
    "numpy": "numpy",
    "pillow": "PIL",
    "threadpoolctl": "threadpoolctl",
    "jinja2": "jinja2",
    "markupsafe": "markupsafe",
    "pytest": "pytest",
    "pluggy": "pluggy",
    "iniconfig": "iniconfig",
    "packaging": "packaging",
}


def missing(modules: list[str]) -> list[str]:
    """The modules of `modules` that fail to import here, each with why."""
    failed = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as err:  # an ImportError, or a broken build raising anything
            failed.append(f"{name} ({type(err).__name__}: {err})")
    return failed


def main() -> int:
    failed = missing(list(IMPORTS.values()))
    if failed:
        print(
            f"missing imports ({len(failed)}): {'; '.join(failed)}. Carry them as wheels: "
            "bash benchmarks/gpu/fetch_wheels.sh where pip works, then carry .whl/ along",
            file=sys.stderr,
        )
        return 2
    print(f"imports: all {len(IMPORTS)} present (Python {platform.python_version()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
