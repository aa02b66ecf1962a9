"""The report's tuning section: optimisation history, parameter importances, D/G ratio vs FID.

It is drawn from the trial jobs' `result.json` files (their `tuning` entries, written by
`bench tune`), so a report needs no access to the study's database. Importances are Optuna's
fANOVA evaluator (Hutter et al. 2014) with a fixed seed, run on an in-memory copy of each
variant's complete trials (Akiba et al. 2019, "Optuna"). Variants should be compared on the
`<suite>.tuned` confirmation jobs, re-run with fresh seeds (Lucic et al. 2018), not here.
"""

from __future__ import annotations

import math
from pathlib import Path

import optuna
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator
from optuna.distributions import json_to_distribution
from optuna.importance import FanovaImportanceEvaluator, get_param_importances

from bench.config import TrainConfig
from bench.report import markup
from bench.report.plots import figure, palette, to_png
from bench.run.store.results import ResultsStore

IMPORTANCE_SEED = 0


def tuning_trials(results_dir: str | Path, suite: str) -> pd.DataFrame:
    """One row per trial job of `suite`: variant, trial, state, value, D/G steps, params."""
    rows = []
    for record in ResultsStore(results_dir).records([suite]):
        tuning = record.get("tuning")
        if not tuning:
            continue
        train = (record.get("config") or {}).get("train") or {}
        rows.append(
            {
                "variant": record["variant"],
                "study": tuning["study"],
                "trial": tuning["trial"],
                "state": tuning["state"],
                "metric": tuning["metric"],
                "value": tuning["value"],
                "d_steps": train.get("d_steps", TrainConfig().d_steps),
                "g_steps": train.get("g_steps", TrainConfig().g_steps),
                "params": tuning.get("params") or {},
                "distributions": tuning.get("distributions") or {},
            }
        )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame["D/G ratio"] = frame["d_steps"] / frame["g_steps"]
    return frame.sort_values(["variant", "trial"], ignore_index=True)


def importances(trials: pd.DataFrame) -> dict[str, float] | None:
    """fANOVA importance of each searched parameter, or None below 2 complete trials."""
    done = trials[(trials["state"] == "complete") & trials["value"].notna()]
    if len(done) < 2:
        return None
    study = optuna.create_study(direction="minimize")
    for row in done.itertuples():
        distributions = {k: json_to_distribution(v) for k, v in row.distributions.items()}
        study.add_trial(
            optuna.trial.create_trial(
                params=row.params, distributions=distributions, value=row.value
            )
        )
    try:
        return get_param_importances(
            study, evaluator=FanovaImportanceEvaluator(seed=IMPORTANCE_SEED)
        )
    except (RuntimeError, ValueError):  # e.g. every trial has the same parameters
        return None


def history_plot(trials: pd.DataFrame, metric: str) -> bytes:
    """Each trial's value (pruned: its last score) and the best so far, per variant."""
    label = metric.upper()
    colours = palette(sorted(trials["variant"].unique()))
    with figure(3.6) as (fig, (ax,)):
        sns.scatterplot(
            trials, x="trial", y="value", hue="variant", style="state", palette=colours, ax=ax
        )
        for variant, rows in trials[trials["state"] == "complete"].groupby("variant"):
            best = rows.set_index("trial")["value"].cummin()
            ax.step(best.index, best.values, where="post", color=colours[variant], alpha=0.6,
                    label=f"best so far: {variant}")  # fmt: skip
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set(
            ylabel=f"{label} (lower is better)", title=f"Optimisation history: {label} per trial"
        )
        ax.legend(fontsize="small")
        return to_png(fig)


def importance_plot(scores: dict[str, dict[str, float]]) -> bytes:
    """Horizontal bars: each parameter's importance, per variant."""
    frame = pd.DataFrame(
        [(v, p, s) for v, by_param in scores.items() for p, s in by_param.items()],
        columns=["variant", "parameter", "importance"],
    )
    with figure(1.2 + 0.3 * len(frame)) as (fig, (ax,)):
        sns.barplot(frame, x="importance", y="parameter", hue="variant", ax=ax)
        ax.set(title="Parameter importance (fANOVA, share of the variance of the final score)")
        return to_png(fig)


def ratio_plot(trials: pd.DataFrame, metric: str) -> bytes | None:
    """Final value of complete trials against the D/G step ratio (d_steps / g_steps)."""
    done = trials[(trials["state"] == "complete") & trials["value"].notna()].copy()
    if done.empty:
        return None
    done["D/G ratio"] = [f"{d}:{g}" for d, g in zip(done["d_steps"], done["g_steps"], strict=True)]
    order = sorted(done["D/G ratio"].unique(), key=lambda r: _ratio(r))
    label = metric.upper()
    with figure(3.2) as (fig, (ax,)):
        sns.stripplot(done, x="D/G ratio", y="value", hue="variant", order=order, dodge=True, ax=ax)
        ax.set(
            xlabel="D steps : G steps per iteration",
            ylabel=f"{label} at the end (lower is better)",
            title=f"{label} vs the D/G step ratio",
        )
        return to_png(fig)


def _ratio(label: str) -> float:
    d, g = label.split(":")
    return int(d) / int(g)


def best_table(trials: pd.DataFrame) -> pd.DataFrame:
    """Per variant: trials by state, the best value, its trial and parameters."""
    rows = []
    for variant, group in trials.groupby("variant"):
        done = group[(group["state"] == "complete") & group["value"].notna()]
        best = done.loc[done["value"].idxmin()] if not done.empty else None
        rows.append(
            {
                "variant": variant,
                "study": group["study"].iloc[0],
                "complete": int((group["state"] == "complete").sum()),
                "pruned": int((group["state"] == "pruned").sum()),
                "best": best["value"] if best is not None else math.nan,
                "best trial": int(best["trial"]) if best is not None else None,
                "parameters": ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                        for k, v in best["params"].items()) if best is not None
                else "",
            }
        )  # fmt: skip
    return pd.DataFrame(rows)


def _shown(value: object) -> str:
    """A cell of the best-trials table: floats to 4 significant digits, missing as blank."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def tuning_section(results_dir: str | Path, suite: str) -> markup.Markup:
    """The tuning section of `suite`, or "" if it holds no tuning trials."""
    trials = tuning_trials(results_dir, suite)
    if trials.empty:
        return markup.Markup()
    metric = trials["metric"].iloc[0]
    scores = {
        variant: found
        for variant, group in trials.groupby("variant")
        if (found := importances(group)) is not None
    }
    missing = sorted(set(trials["variant"]) - set(scores))
    parts = [
        markup.paragraph(
            "Trials of bench tune: each point is one trial on one seed; pruned trials show their "
            "last score. Compare variants on the confirmation suite (<suite>.tuned: each best "
            f"re-run with fresh seeds), not on these single runs. Lower {metric.upper()} is "
            "better.",
            "note",
        ),
        markup.table(best_table(trials).map(_shown)),
        markup.figure(history_plot(trials, metric), "optimisation history"),
        markup.figure(importance_plot(scores), "parameter importances") if scores else "",
        markup.paragraph(
            f"No importances for {', '.join(missing)}: they need at least 2 complete trials "
            "with different parameters.",
            "note",
        )
        if missing
        else "",
        markup.figure(ratio_plot(trials, metric), "final score vs D/G step ratio"),
    ]
    return markup.section(f"Tuning ({suite})", parts, level=3, css="tuning")
