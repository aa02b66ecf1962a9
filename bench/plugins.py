"""Load plugins: installed entry points and modules a suite names, attributing what they register.

A plugin is an importable module that registers tricks, models, datasets or feature extractors
through the same decorators the built-ins use. It is found in one of two ways:

- an installed package declares it under an entry-point group (`gan_bench.tricks`,
  `gan_bench.models`, `gan_bench.datasets`, `gan_bench.backbones`); each group is loaded
  lazily, once per process, the first time its registry is consulted;
- a suite names the module: `[suite] plugins = ["mypkg.gan_tricks"]`, or a model builder
  `model.arch = "mypkg.nets:build"`. Importing the named module is the only code a suite can
  cause to run.

While a plugin loads, everything it registers is attributed to its `Origin` (module, package,
version), which `bench tricks`, refusals and every job's provenance name. A plugin that fails to
import, or registers a name that is already taken, is a `PluginError` naming it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib import metadata
from typing import Any

from bench.errors import PluginError

GROUPS = {
    "tricks": "gan_bench.tricks",
    "models": "gan_bench.models",
    "datasets": "gan_bench.datasets",
    "backbones": "gan_bench.backbones",
}


@dataclass(frozen=True)
class Origin:
    """Where a registered name comes from: gan-bench itself, or a plugin module and package."""

    module: str
    package: str | None = None
    version: str | None = None

    @property
    def builtin(self) -> bool:
        return self.module == "bench"

    def describe(self) -> str:
        if self.builtin:
            return "built-in"
        package = f" ({self.package} {self.version})" if self.package else ""
        return f"plugin '{self.module}'{package}"

    def record(self) -> dict[str, Any]:
        return asdict(self)


BUILTIN = Origin("bench")
_loading: list[Origin] = []
_loaded_groups: set[str] = set()
_imported: dict[str, Origin] = {}


def current_origin() -> Origin:
    """The origin of whatever is being registered right now: the loading plugin, or built-in."""
    return _loading[-1] if _loading else BUILTIN


def clash(kind: str, name: str, first: Origin, second: Origin) -> PluginError:
    """The error for `name` registered twice: it names both registrants (plugins first)."""
    plugin, other = (second, first) if not second.builtin else (first, second)
    return PluginError(
        f"{plugin.describe()}: {kind} '{name}' is also registered by {other.describe()}; "
        "rename one of them"
    )


@contextmanager
def attributed_to(origin: Origin) -> Iterator[None]:
    """Attribute registrations made inside the block to `origin`."""
    _loading.append(origin)
    try:
        yield
    finally:
        _loading.pop()


def package_of(module: str) -> tuple[str | None, str | None]:
    """The installed distribution providing top-level package of `module`, and its version."""
    top = module.split(".")[0]
    names = metadata.packages_distributions().get(top, [])
    if not names:
        return None, None
    try:
        return names[0], metadata.version(names[0])
    except metadata.PackageNotFoundError:
        return names[0], None


def import_plugin(module: str, named_by: str) -> Origin:
    """Import plugin module `module` (once), attributing what it registers; its `Origin`.

    `named_by` says who asked for it (a suite key, an entry point) for the error message.
    """
    if module in _imported:
        return _imported[module]
    package, version = package_of(module)
    origin = Origin(module, package, version)
    with attributed_to(origin):
        _import(module, origin, named_by)
    _imported[module] = origin
    return origin


def _import(module: str, origin: Origin, named_by: str) -> Any:
    try:
        return importlib.import_module(module)
    except PluginError:
        raise
    except Exception as err:  # a plugin's import may raise anything: report it, don't crash
        sys.modules.pop(module, None)
        raise PluginError(
            f"{origin.describe()} (named by {named_by}) failed to import: "
            f"{type(err).__name__}: {err}"
        ) from None


def resolve_object(reference: str, named_by: str) -> tuple[Any, Origin]:
    """`"pkg.module:attr"` -> the object, importing the module as a plugin."""
    module, _, attribute = reference.partition(":")
    origin = import_plugin(module, named_by)
    target: Any = sys.modules[module]
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise PluginError(f"{origin.describe()} (named by {named_by}) has no '{attribute}'")
        target = getattr(target, part)
    return target, origin


def load_entry_points(kind: str) -> None:
    """Import every installed plugin of entry-point group `GROUPS[kind]`, once per process."""
    group = GROUPS[kind]
    if group in _loaded_groups:
        return
    for entry in sorted(metadata.entry_points(group=group), key=lambda e: (e.value, e.name)):
        module = entry.value.partition(":")[0].strip()
        if module in _imported:
            continue
        dist = entry.dist
        origin = Origin(module, dist.name if dist else None, dist.version if dist else None)
        with attributed_to(origin):
            _import(module, origin, f"entry point '{entry.name}' in group {group}")
        _imported[module] = origin
    _loaded_groups.add(group)
