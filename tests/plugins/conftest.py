"""Plugins on the import path for one test: the example package installed for real, or
hand-made modules and dist-infos in a temporary folder; whatever they register is forgotten
after the test, so other tests see only the built-ins."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from textwrap import dedent

import pytest

import bench.data.base as datasets
import bench.metrics.plugin_backbones as extractors
import bench.models.registry as models
import bench.plugins as plugins
import bench.tricks.registry as tricks
from bench.data import clear_dataset_cache

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "plugin"
REGISTRIES = (
    tricks.REGISTRY,
    tricks.ORIGINS,
    datasets.REGISTRY,
    models.REGISTRY,
    extractors.REGISTRY,
)


@pytest.fixture(scope="session")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/plugin installed into a throw-away target: with pip where setuptools is at
    hand (it builds offline, without isolation), else as pip would lay it out: the package
    beside a dist-info holding its metadata and entry points."""
    root = tmp_path_factory.mktemp("example-plugin")
    source = root / "src"
    shutil.copytree(EXAMPLE, source)  # pip builds in place: keep the repo clean
    site = root / "site"
    if importlib.util.find_spec("setuptools") is None:
        install_by_hand(source, site)
        return site
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
         "--no-index", "--quiet", "--target", str(site), str(source)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return site


def install_by_hand(source: Path, site: Path) -> None:
    pyproject = tomllib.loads((source / "pyproject.toml").read_text())
    project = pyproject["project"]
    for package in pyproject["tool"]["setuptools"]["packages"]:
        shutil.copytree(source / package, site / package)
    entries = "".join(
        f"[{group}]\n" + "".join(f"{key} = {value}\n" for key, value in items.items()) + "\n"
        for group, items in project["entry-points"].items()
    )
    PluginFolder(site).dist(project["name"], project["version"], entries)


@pytest.fixture
def plugin_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path], None]]:
    """`plugin_path(folder)` puts `folder` first on sys.path for this test; entry points are
    scanned afresh, and every registration and module loaded from there is dropped after."""
    tricks.builtin_tricks()  # registered before the snapshot, or they would be forgotten
    saved = [dict(registry) for registry in REGISTRIES]
    groups, imported = set(plugins._loaded_groups), dict(plugins._imported)
    plugins._loaded_groups.clear()
    folders: list[Path] = []

    def add(folder: Path) -> None:
        folders.append(folder)
        monkeypatch.syspath_prepend(str(folder))

    yield add
    for registry, before in zip(REGISTRIES, saved, strict=True):
        registry.clear()
        registry.update(before)
    plugins._loaded_groups.clear()
    plugins._loaded_groups.update(groups)
    plugins._imported.clear()
    plugins._imported.update(imported)
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None) or ""
        if any(path.startswith(str(folder)) for folder in folders):
            del sys.modules[name]
    clear_dataset_cache()


class PluginFolder:
    """A folder on sys.path to write plugin modules and installed distributions into."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def module(self, name: str, text: str) -> None:
        (self.path / f"{name}.py").write_text(dedent(text))

    def dist(self, name: str, version: str, entry_points: str) -> None:
        """A minimal installed distribution: METADATA and entry_points.txt in a dist-info."""
        info = self.path / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        (info / "METADATA").write_text(meta)
        (info / "entry_points.txt").write_text(dedent(entry_points))


@pytest.fixture
def plugin_folder(tmp_path: Path, plugin_path: Callable[[Path], None]) -> PluginFolder:
    folder = tmp_path / "plugins"
    folder.mkdir()
    plugin_path(folder)
    return PluginFolder(folder)
