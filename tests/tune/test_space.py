"""Bad `[tune]` input is refused before anything runs, naming the file, key and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli import main
from bench.errors import ConfigError
from bench.tune import plan_tuning


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            ['tune.params.train.lr = { type = "float", low = 1e-4, high = 1e-3 }'],
            "key 'tune.params.train.lr': cannot be searched; searchable: train.batch_size",
        ),
        (
            ['tune.params.train.steps = { type = "int", low = 10, high = 20 }'],
            "key 'tune.params.train.steps': cannot be searched",
        ),
        (
            ['tune.params.train.lr_d = { type = "floaty", low = 1e-4, high = 1e-3 }'],
            "key 'tune.params.train.lr_d.type' = 'floaty': Input should be 'float', 'int' or",
        ),
        (
            ['tune.params.train.lr_d = { type = "float", low = 1e-3, high = 1e-4 }'],
            "key 'tune.params.train.lr_d'",
        ),
        (
            ['tune.params.train.lr_d = { type = "float", low = 0.0, high = 1e-3, log = true }'],
            "log = true needs low > 0",
        ),
        (
            ['tune.params.train.lr_d = { type = "float", low = 1e-4, high = 2.0 }'],
            "key 'tune.params.train.lr_d.high' = 2.0 (variant 'baseline'): key 'train.lr_d' = 2.0: "
            "Input should be less than or equal to 1",
        ),
        (
            ['tune.params.train.d_steps = { type = "float", low = 1, high = 4 }'],
            "train.d_steps is an integer; use type = 'int' or choices",
        ),
        (
            ["tune.params.train.batch_size = { choices = [32, 1] }"],
            "key 'tune.params.train.batch_size.choices[1]' = 1",
        ),
        (
            ['tune.params.tricks.instance_noise.sigmaa = { type = "float", low = 0.1, high = 1 }'],
            "trick 'instance_noise' has no parameter 'sigmaa'; its parameters: sigma, ",
        ),
        (
            ['tune.params.tricks.soft_labels.real_low = { type = "float", low = 0.6, high = 0.8 }'],
            "no variant enables trick 'soft_labels' (enabled: instance_noise)",
        ),
        (['tune.sampler = "bayes"'], "key 'tune.sampler' = 'bayes': Input should be 'tpe'"),
        (['tune.pruner = "median"', "eval.every = 0"], "key 'base.eval.every' = 0"),
        (['tune.pruner = "median"'], "key 'tune.pruner' = 'median' needs scores during training"),
        (['tune.metric = "kid"'], "key 'tune.metric' = 'kid': variant 'baseline' does not compute"),
        (["tune.params = {}"], "[tune.params] is empty"),
    ],
)
def test_bad_tune_input_names_the_key(make_tune_suite, overrides: list[str], expected: str) -> None:
    suite = make_tune_suite(every=None)  # no scores during training
    with pytest.raises(ConfigError) as err:
        plan_tuning(suite, overrides, all_variants=True)
    assert str(err.value).startswith(f"{suite}: ")
    assert expected in str(err.value)


def test_nested_tables_and_set_override_a_quoted_key(tune_suite_file: Path) -> None:
    plan = plan_tuning(tune_suite_file, ["tune.params.train.lr_g.high=0.01"])
    (dim,) = [d for d in plan.targets[0].space if d.key == "train.lr_g"]
    assert (dim.param.low, dim.param.high, dim.param.log) == (1e-4, 0.01, True)


def test_unknown_variant_and_missing_tune_table(tune_suite_file: Path, tiny_suite: Path) -> None:
    with pytest.raises(ConfigError, match=r"--variant 'nope': no such variant .* \['baseline', "):
        plan_tuning(tune_suite_file, variants=["nope"])
    with pytest.raises(ConfigError, match=r"tiny.toml: no \[tune\] table"):
        plan_tuning(tiny_suite)


def test_unequal_step_budgets_are_refused(tune_suite_file: Path) -> None:
    text = tune_suite_file.read_text().replace(
        "tricks = { instance_noise", 'set = { "train.steps" = 40 }\ntricks = { instance_noise'
    )
    tune_suite_file.write_text(text)
    with pytest.raises(ConfigError, match=r"different train.steps \{'baseline': 10, 'noise': 40\}"):
        plan_tuning(tune_suite_file, all_variants=True)
    plan_tuning(tune_suite_file, variants=["noise"])  # one variant alone is fine


def test_cli_bad_tune_input_is_one_line_exit_2(
    capsys, tune_suite_file: Path, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    code = main(
        ["tune", str(tune_suite_file), "--results", str(results), "--set", "tune.n_trials=-1"]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "'tune.n_trials' = -1" in err
    assert not results.exists(), "nothing may start on bad input"
