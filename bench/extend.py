"""What a plugin imports to extend gan-bench: the registration decorators and their types.

- tricks: subclass `Trick` (typed `TrickParams`, `needs`, `conflicts`, hooks) and decorate it
  with `register_trick`;
- models: decorate `build(cfg, data_shape, num_classes) -> (G, D)` with `register_model`,
  declaring the data, image sizes, channels, conditioning and module-surgery tricks it supports;
- datasets: decorate `load(cfg) -> Dataset` with `register_dataset` (`image_dataset` scales,
  resizes and fingerprints integer pixels held in `ImageSplits`);
- feature extractors: decorate `make(dataset, cache_dir) -> Backbone` with `register_backbone`
  (`Backbone` is in `bench.metrics.backbones`, not here: torch-fidelity is slow to import).

See docs/plugins.md and the example package in examples/plugin/.
"""

from bench.config import DataConfig, ModelConfig
from bench.data.base import Dataset
from bench.data.base import register as register_dataset
from bench.data.images import ImageSplits, image_dataset, split_source
from bench.metrics.plugin_backbones import register_backbone
from bench.models.registry import register_model
from bench.tricks.registry import LossTerms, TrainContext, Trick, TrickParams
from bench.tricks.registry import register as register_trick

__all__ = [
    "DataConfig",
    "Dataset",
    "ImageSplits",
    "LossTerms",
    "ModelConfig",
    "TrainContext",
    "Trick",
    "TrickParams",
    "image_dataset",
    "register_backbone",
    "register_dataset",
    "register_model",
    "register_trick",
    "split_source",
]
