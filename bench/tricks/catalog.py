"""Text views of the trick registry: the `bench tricks` table and one trick in full."""

from __future__ import annotations

import inspect
from typing import Any

from pydantic.fields import FieldInfo

from bench.errors import ConfigError
from bench.tricks.registry import Trick, all_tricks, builtin_tricks, trick_conflicts, trick_origin


def parameter_lines(cls: type[Trick]) -> list[str]:
    """One line per parameter: name, default, allowed range, description."""
    return [
        f"{name} = {info.default!r}{_range(info)}{_about(info)}"
        for name, info in cls.Params.model_fields.items()
    ]


def _range(info: FieldInfo) -> str:
    bounds: dict[str, Any] = {}
    for item in info.metadata:
        for key in ("ge", "gt", "le", "lt"):
            if getattr(item, key, None) is not None:
                bounds[key] = getattr(item, key)
    if not bounds:
        return ""
    symbols = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    return "  (" + ", ".join(f"{symbols[k]} {v}" for k, v in bounds.items()) + ")"


def _about(info: FieldInfo) -> str:
    return f"  {info.description}" if info.description else ""


def trick_table() -> str:
    """Every trick: name, family, parameters with defaults, needs, requires, conflicts,
    citation.

    A plugin's trick also names its origin: `(plugin 'module' (package version))`.
    """
    lines = []
    tricks = all_tricks()
    for name, cls in tricks.items():
        params = ", ".join(f"{p}={f.default!r}" for p, f in cls.Params.model_fields.items())
        origin = trick_origin(name)
        shown = "" if origin.builtin else f"  ({origin.describe()})"
        lines.append(f"{name}  [{cls.family}]  {cls.summary()}{shown}")
        lines.append(f"    params: {params or '-'}")
        if cls.needs:
            lines.append(f"    needs: {', '.join(sorted(cls.needs))}")
        if cls.requires:
            lines.append(f"    requires: {', '.join(sorted(cls.requires))}")
        conflicts = trick_conflicts(cls, tricks)
        if conflicts:
            lines.append(f"    conflicts: {', '.join(sorted(conflicts))}")
        lines.append(f"    citation: {cls.citation}")
    return "\n".join(lines)


def describe_trick(name: str) -> str:
    """One trick in full: its docstring, every parameter, needs, the tricks it requires and
    those it conflicts with, and why."""
    tricks = all_tricks()
    if name not in tricks:
        raise ConfigError(f"unknown trick '{name}'; known tricks: {', '.join(tricks)}")
    cls = tricks[name]
    lines = [f"{name}  [{cls.family}]", "", inspect.getdoc(cls) or "", "", "parameters:"]
    lines += [f"  {line}" for line in parameter_lines(cls)] or ["  (none)"]
    lines.append(f"needs: {', '.join(sorted(cls.needs)) or '-'}")
    lines += [f"requires {other}: {why}" for other, why in sorted(cls.requires.items())]
    conflicts = sorted(trick_conflicts(cls, tricks).items())
    lines += [f"conflicts with {other}: {why}" for other, why in conflicts]
    lines.append(f"hook order: {cls.order}; graph-capturable: {'yes' if cls.capturable else 'no'}")
    lines.append(f"citation: {cls.citation}")
    lines.append(f"origin: {trick_origin(name).describe()}")
    return "\n".join(lines)


def markdown_table() -> str:
    """The README's trick table: one row per built-in trick (kept in sync by a test); "needs"
    holds the dataset's capabilities it needs and the tricks it requires."""
    rows = [
        "| trick | family | parameters (defaults) | needs | citation |",
        "|---|---|---|---|---|",
    ]
    for name, cls in builtin_tricks().items():
        params = ", ".join(f"`{p}={f.default!r}`" for p, f in cls.Params.model_fields.items())
        needs = ", ".join([*sorted(cls.needs), *(f"`{t}`" for t in sorted(cls.requires))]) or "-"
        rows.append(f"| `{name}` | {cls.family} | {params or '-'} | {needs} | {cls.citation} |")
    return "\n".join(rows)
