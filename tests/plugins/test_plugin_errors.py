"""Plugins named by a suite or installed with entry points, through the CLI: what works, and each
way a plugin can be broken is one line naming it, exit code 2, no traceback, nothing started."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cli import main

TRICK_MODULE = """
from pydantic import Field
from bench.extend import Trick, TrickParams, register_trick

class ScaleParams(TrickParams):
    scale: float = Field(0.5, gt=0)

@register_trick
class ScaledGeneratorLoss(Trick):
    '''Scale G's loss (a test plugin).'''
    name = "{name}"
    family = "test"
    citation = "a test"
    Params = ScaleParams

    def g_loss(self, loss, terms, ctx):
        return loss * self.params.scale
"""
NETS_MODULE = """
import math
from torch import nn

def build(cfg, shape, num_classes):
    n = math.prod(shape)
    generator = nn.Sequential(nn.Linear(cfg.latent_dim, n), nn.Tanh(), nn.Unflatten(1, shape))
    return generator, nn.Sequential(nn.Flatten(), nn.Linear(n, 1), nn.Flatten(0))

def wrong_image(cfg, shape, num_classes):
    generator = nn.Sequential(nn.Linear(cfg.latent_dim, 10))
    return generator, nn.Sequential(nn.Flatten(), nn.Linear(math.prod(shape), 1), nn.Flatten(0))

def wrong_logits(cfg, shape, num_classes):
    generator, _ = build(cfg, shape, num_classes)
    return generator, nn.Sequential(nn.Flatten(), nn.Linear(math.prod(shape), 3))

def raises(cfg, shape, num_classes):
    raise ValueError("no such layer size")
"""
BACKBONE_MODULE = """
import dataclasses
from bench.extend import register_backbone
from bench.metrics.backbones import domain_backbone

@register_backbone("domain_copy")
def make(dataset, cache_dir):
    return dataclasses.replace(domain_backbone(dataset, cache_dir), name="domain_copy")
"""
SUITE = {"name": "plugged", "seeds": [0], "exploratory": "a plugin smoke test: one seed"}


@pytest.fixture
def suite_file(suite_text):
    """`suite_file(tmp_path, plugins=(), arch="dcgan", trick="uniform_latent")` -> its path."""

    def write(tmp_path: Path, plugins=(), arch="dcgan", trick="uniform_latent") -> Path:
        path = tmp_path / "plugged.toml"
        base = {"data": None, "model": {"arch": arch, "g_width": None, "d_width": None}}
        path.write_text(suite_text(SUITE | {"plugins": list(plugins)}, base, f"[tricks.{trick}]\n"))
        return path

    return write


def refused(capsys, tmp_path: Path, *argv: str) -> str:
    """Run the CLI; assert a one-line refusal with exit code 2 and nothing started."""
    results = tmp_path / "results"
    code = main([*argv, "--results", str(results)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert not results.exists(), "nothing may start"
    return err


def test_suite_named_modules_and_builder_run_and_are_recorded(
    suite_file, capsys, plugin_folder, tmp_path: Path
) -> None:
    plugin_folder.module("my_tricks", TRICK_MODULE.format(name="scaled_g_loss"))
    plugin_folder.module("my_nets", NETS_MODULE)
    plugin_folder.module("my_backbone", BACKBONE_MODULE)
    suite = suite_file(tmp_path, ["my_tricks", "my_backbone"], "my_nets:build", "scaled_g_loss")
    results = tmp_path / "results"
    argv = ["run", str(suite), "--results", str(results), "--quiet"]
    assert main([*argv, "--set", "eval.backbone=domain_copy"]) == 0
    records = [json.loads(p.read_text()) for p in results.glob("plugged/*/result.json")]
    assert sorted(r["status"] for r in records) == ["ok", "ok"]
    assert {r["metric_provenance"]["backbone"] for r in records} == {"domain_copy"}
    used = {r["variant"]: {p["module"]: p["provides"] for p in r["plugins"]} for r in records}
    common = {"my_nets": ["model:my_nets:build"], "my_backbone": ["backbone:domain_copy"]}
    assert used == {
        "baseline": {**common, "my_tricks": []},
        "scaled_g_loss": {**common, "my_tricks": ["trick:scaled_g_loss"]},
    }
    assert all(p["package"] is None for r in records for p in r["plugins"])


def test_unknown_backbone_lists_the_known_ones(suite_file, capsys, tmp_path: Path) -> None:
    suite = suite_file(tmp_path)
    err = refused(capsys, tmp_path, "run", str(suite), "--set", "eval.backbone=clip")
    assert "key 'eval.backbone' = 'clip': unknown; known: auto, domain, inception-v3-compat" in err


def test_plugin_that_fails_to_import(suite_file, capsys, plugin_folder, tmp_path: Path) -> None:
    plugin_folder.module("broken_tricks", "raise RuntimeError('needs a GPU library')\n")
    err = refused(capsys, tmp_path, "run", str(suite_file(tmp_path, ["broken_tricks"])))
    assert "plugin 'broken_tricks'" in err and "[suite] plugins" in err
    assert "RuntimeError: needs a GPU library" in err


def test_plugin_module_that_does_not_exist(
    suite_file, capsys, plugin_folder, tmp_path: Path
) -> None:
    err = refused(capsys, tmp_path, "run", str(suite_file(tmp_path, ["no_such_plugin"])))
    assert "plugin 'no_such_plugin'" in err and "No module named 'no_such_plugin'" in err


def test_name_registered_by_two_plugins(suite_file, capsys, plugin_folder, tmp_path: Path) -> None:
    plugin_folder.module("first_tricks", TRICK_MODULE.format(name="sharpen"))
    plugin_folder.module("second_tricks", TRICK_MODULE.format(name="sharpen"))
    suite = suite_file(tmp_path, ["first_tricks", "second_tricks"])
    err = refused(capsys, tmp_path, "run", str(suite))
    assert (
        "plugin 'second_tricks': trick 'sharpen' is also registered by plugin 'first_tricks'" in err
    )


def test_name_clashing_with_a_builtin(suite_file, capsys, plugin_folder, tmp_path: Path) -> None:
    plugin_folder.module("my_norm", TRICK_MODULE.format(name="spectral_norm"))
    err = refused(capsys, tmp_path, "run", str(suite_file(tmp_path, ["my_norm"])))
    assert "plugin 'my_norm': trick 'spectral_norm' is also registered by built-in" in err


@pytest.mark.parametrize(
    ("builder", "message"),
    [
        ("wrong_image", "G returned shape (2, 10) for 2 latents; expected (2, 1, 8, 8)"),
        ("wrong_logits", "D returned shape (2, 3) for 2 images; expected one logit per image"),
        ("raises", "failed to build or run its nets for data of shape (1, 8, 8): ValueError"),
    ],
)
def test_builder_with_wrong_shapes(
    suite_file, capsys, plugin_folder, tmp_path: Path, builder: str, message: str
) -> None:
    plugin_folder.module("my_nets", NETS_MODULE)
    err = refused(capsys, tmp_path, "run", str(suite_file(tmp_path, arch=f"my_nets:{builder}")))
    assert f"model 'my_nets:{builder}' (plugin 'my_nets')" in err and message in err


def test_builder_reference_to_a_missing_name(
    suite_file, capsys, plugin_folder, tmp_path: Path
) -> None:
    plugin_folder.module("my_nets", NETS_MODULE)
    err = refused(capsys, tmp_path, "run", str(suite_file(tmp_path, arch="my_nets:nowhere")))
    assert "plugin 'my_nets'" in err and "has no 'nowhere'" in err


def test_module_surgery_on_a_bare_builder_is_refused(
    suite_file, capsys, plugin_folder, tmp_path: Path
) -> None:
    plugin_folder.module("my_nets", NETS_MODULE)
    suite = suite_file(tmp_path, arch="my_nets:build", trick="spectral_norm")
    err = refused(capsys, tmp_path, "run", str(suite))
    assert "trick 'spectral_norm' cannot be applied to model 'my_nets:build'" in err


def test_unknown_arch_lists_the_models(suite_file, capsys, tmp_path: Path) -> None:
    err = refused(capsys, tmp_path, "run", str(suite_file(tmp_path, arch="stylegan")))
    assert "key 'model.arch' = 'stylegan': unknown model; known models: dcgan, mlp" in err


def test_installed_plugin_that_fails_to_import(capsys, plugin_folder) -> None:
    plugin_folder.module("broken_entry", "import a_library_that_is_not_installed\n")
    plugin_folder.dist("broken-plugin", "1.2", "[gan_bench.tricks]\nbroken = broken_entry\n")
    assert main(["tricks"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "plugin 'broken_entry' (broken-plugin 1.2)" in err
    assert "entry point 'broken' in group gan_bench.tricks" in err
    assert "No module named 'a_library_that_is_not_installed'" in err


def test_dataset_name_two_installed_plugins_register(
    suite_file, capsys, plugin_folder, tmp_path
) -> None:
    for package in ("alpha", "beta"):
        plugin_folder.module(
            f"{package}_data",
            """
            from bench.extend import register_dataset

            @register_dataset("shapes", kind="image", capabilities={"images"}, image_size=8)
            def shapes(cfg):
                raise AssertionError("never loaded")
            """,
        )
        plugin_folder.dist(package, "0.3", f"[gan_bench.datasets]\nshapes = {package}_data\n")
    suite = suite_file(tmp_path)
    err = refused(capsys, tmp_path, "run", str(suite), "--set", "data.name=shapes")
    assert "plugin 'beta_data' (beta 0.3): dataset 'shapes' is also registered by" in err
    assert "plugin 'alpha_data' (alpha 0.3)" in err


NEEDY_TRICK = """
from bench.extend import Trick, register_trick

@register_trick
class LabelledOnly(Trick):
    '''Needs labels and conflicts with uniform_latent (a test plugin).'''
    name = "labelled_only"
    family = "test"
    citation = "a test"
    needs = frozenset({"labels"})
    conflicts = {"uniform_latent": "both draw the latent"}
"""


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["data.name=ring8", "model.arch=mlp"], "trick 'labelled_only' needs labels"),
        (
            ["base.tricks.uniform_latent={}"],
            "tricks 'labelled_only' and 'uniform_latent' cannot be combined: both draw the latent",
        ),
    ],
)
def test_plugin_trick_needs_and_conflicts_are_checked_before_anything_runs(
    suite_file, capsys, plugin_folder, tmp_path: Path, sets: list[str], message: str
) -> None:
    plugin_folder.module("needy", NEEDY_TRICK)
    suite = suite_file(tmp_path, ["needy"], trick="labelled_only")
    err = refused(capsys, tmp_path, "run", str(suite), *[a for s in sets for a in ("--set", s)])
    assert message in err
