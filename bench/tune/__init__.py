"""`bench tune`: Optuna hyperparameter search over a suite's variants, on shared storage.

A suite's `[tune]` table declares the search space (learning rates, Adam betas, batch size,
the D/G step ratio, latent size, any trick parameter) and how to search it (sampler, pruner,
trials). Each tuned variant gets one Optuna study (Akiba et al. 2019); each trial is a normal
job in the results store; the objective is the FID at the end of training, minimised, with
intermediate FIDs feeding the pruner. `--confirm K` re-runs each variant's best trial with K
fresh seeds and `--export` writes the tuned suite, so variants are compared at their tuned
best on equal budgets (Lucic et al. 2018).

Modules: `space` (search keys), `study` (storage, samplers, pruners, budget), `objective`
(trial -> job), `plan` (checks before anything runs), `search` (the worker loop), `confirm`,
`export`.
"""

from bench.tune.plan import TunePlan, plan_tuning
from bench.tune.search import TuneSummary, format_summary, tune_suite
from bench.tune.study import TuneError

__all__ = ["TuneError", "TunePlan", "TuneSummary", "format_summary", "plan_tuning", "tune_suite"]
