"""A solution: a folder under notebooks/ with a config.yaml and a model.py.

model.py defines ``build_model(input_shape, **model_settings)``; the ``model`` section of
config.yaml gives its keyword arguments, and the objective adds what it needs
(helpers.detectors.objectives): a classifier gets ``classes``, the number of classes it tells apart; a
reconstruction whose target is not its input (inputs.kind ``context``: the middle frame) gets
``target_shape``, the shape of one target. For the torch framework it returns a
torch.nn.Module whose ``forward`` maps a batch of inputs to the objective's output: the
predicted target of a reconstruction, logits over the classes of a classifier. The module may also define
``training_loss(x, target) -> (loss, parts)`` (its own loss, e.g. the VAE's or an angular-margin
head's; `target` is the objective's training target) and ``embed(x)`` (vectors a
density back end can be fitted on). For the keras framework it returns a keras.Model that
predicts the reconstruction target. Copying a folder under a new name makes a new solution;
nothing else needs editing.
"""
from __future__ import annotations

import hashlib
import importlib.util
import inspect
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from helpers.detectors import config as config_module
from helpers import paths
from helpers.detectors import inputs, objectives
from helpers.errors import ConfigError
from helpers.data.features import FeatureSettings

# training settings that only choose the training clips (DCASE 2025's supplemental clips)
CLIP_CHOOSING = ("supplemental_machine", "noise_copies", "noise_snr_db")


@dataclass
class Solution:
    """One solution folder with its checked settings and its model module."""

    name: str
    folder: Path
    config: dict
    model_module: ModuleType = field(repr=False)
    run_name: str = ""

    @property
    def features(self) -> FeatureSettings:
        return config_module.feature_settings(self.config)

    @property
    def framework(self) -> str:
        return self.config["framework"]

    def result_dir(self, result_root: str | Path | None = None) -> Path:
        """Where this run writes: <result_root>/<run_name>."""
        return Path(result_root or paths.RESULT) / (self.run_name or self.name)

    @property
    def objective(self) -> objectives.Objective:
        """What the network is trained for (helpers.detectors.objectives), from training.objective."""
        return objectives.objective(self.config["training"]["objective"])

    @property
    def input_kind(self) -> type[inputs.Items]:
        """The class of this solution's network inputs (helpers.detectors.inputs.KINDS)."""
        return inputs.kind(self.config["inputs"]["kind"])

    def input_shape(self) -> tuple[int, ...]:
        """Shape of one network input, e.g. (n_mels * frames,) for stacked vectors."""
        return self.input_kind.input_shape(self.config["inputs"], self.features)

    def min_frames(self) -> int:
        """Log-mel frames one network input needs."""
        return self.input_kind.min_frames(self.config["inputs"], self.features)

    def target_shape(self) -> tuple[int, ...]:
        """Shape of one reconstruction target: the input's, or (n_mels,) for the middle frame of context inputs."""
        return self.input_kind.target_shape(self.config["inputs"], self.features)

    def model_arguments(self, classes: int | None = None) -> dict:
        """build_model's keyword arguments: the model settings, what the objective passes (`classes`
        for a classifier, `target_shape` for a reconstruction whose target is not its input) and what
        the input kind passes (`bins` for segments with their spectrum)."""
        return {**self.config["model"], **self.objective.build_arguments(self.input_kind, self.target_shape(), classes),
                **self.input_kind.build_arguments(self.config["inputs"])}

    def build_model(self, classes: int | None = None):
        """A fresh network; `classes` (the number of classes it tells apart) for an objective that learns classes."""
        return self.model_module.build_model(self.input_shape(), **self.model_arguments(classes))

    def fingerprint(self) -> str:
        """A hash of every setting that changes a trained model (not the Lightning trainer's placement,
        the scoring, the description, nor what the notebooks say; nor the settings that only choose
        training clips, whose paths helpers.experiments.pipeline.training_fingerprint adds)."""
        relevant = {k: v for k, v in self.config.items() if k not in ("trainer", "scoring", "description", "notebook")}
        relevant["training"] = {k: v for k, v in relevant["training"].items() if k not in CLIP_CHOOSING}
        source = (self.folder / "model.py").read_bytes() + self.input_kind.identity(self.config["inputs"]).encode()
        return hashlib.sha1(json.dumps(relevant, sort_keys=True).encode() + source).hexdigest()[:12]


def solution_folders(notebooks: str | Path = paths.NOTEBOOKS) -> list[Path]:
    """Every solution folder (a folder with a config.yaml) under `notebooks`, by name."""
    return sorted(p.parent for p in Path(notebooks).glob("*/config.yaml"))


def import_model(folder: Path) -> ModuleType:
    """Import `folder`/model.py (also in a fresh worker process, which cannot import it by name)."""
    path = folder / "model.py"
    if not path.is_file():
        raise ConfigError(f"solution folder {folder} has no model.py (it must define build_model)")
    module_name = f"solution_model_{folder.name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    if not callable(getattr(module, "build_model", None)):
        raise ConfigError(f"{path} must define build_model(input_shape, **model_settings)")
    return module


def _check_model_settings(module: ModuleType, config: dict, where: str) -> None:
    """ConfigError unless build_model takes every key of the model section and every model setting
    that a notebook parameter overrides (config.yaml's notebook.parameters)."""
    signature = inspect.signature(module.build_model)
    params = list(signature.parameters.values())[1:]
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return
    accepted = {p.name for p in params}
    objective = objectives.objective(config["training"]["objective"])
    kind = inputs.kind(config["inputs"]["kind"])
    passed = {**objective.required_arguments(kind), **kind.required_arguments()}
    for name, meaning in passed.items():
        if name not in accepted:
            raise ConfigError(f"{where}: training.objective {objective.name!r} with inputs.kind "
                              f"{config['inputs']['kind']!r} passes {meaning} to build_model as `{name}`, which "
                              f"{module.__file__}'s build_model does not take")
        accepted.discard(name)
    for key in config["model"]:
        if key not in accepted:
            raise config_module.unknown_setting_error(key, accepted, f"{where} [model]")
    for name, spec in config["notebook"]["parameters"].items():
        group, _, key = spec["setting"].partition(".")
        if group == "model" and key not in accepted:
            raise config_module.unknown_setting_error(key, accepted, f"{where} [notebook.parameters.{name}] model")


def _files_in(config: dict, folder: Path) -> dict:
    """`config` with the settings that name files of the solution (inputs.checkpoint, an inputs.extractor
    that is a .py file) made absolute: relative ones are relative to its folder."""
    settings = config["inputs"]
    for key in ("checkpoint", "extractor"):
        value = settings[key]
        if value and (key == "checkpoint" or value.endswith(".py")) and not Path(value).is_absolute():
            settings[key] = str(folder / value)
    return config


def load(folder: str | Path = ".", overrides: dict | None = None, run_name: str | None = None) -> Solution:
    """Load the solution in `folder` (a notebook's own folder by default), with overrides applied."""
    folder = Path(folder).resolve()
    config = _files_in(config_module.load(folder / "config.yaml", overrides), folder)
    if config["framework"] == "keras":  # TensorFlow set up by its one module (quiet) before model.py imports keras
        importlib.import_module("helpers.detectors.keras_backend")
    module = import_model(folder)
    _check_model_settings(module, config, str(folder / "config.yaml"))
    return Solution(folder.name, folder, config, module, run_name or folder.name)
