"""A solution: a folder under notebooks/ with a config.yaml and a model.py.

model.py defines ``build_model(input_shape, **model_settings)``; the ``model`` section of
config.yaml gives its keyword arguments. For the torch framework it returns a torch.nn.Module
whose ``forward`` reconstructs its input; it may also define ``training_loss(x) -> (loss, logs)``
(a special loss, e.g. the VAE's) and ``reconstruct(x)`` (the reconstruction used for scoring).
For the keras framework it returns a compiled-ready keras.Model.
Copying a folder under a new name makes a new solution; nothing else needs editing.
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

from helpers import config as config_module
from helpers import paths
from helpers.errors import ConfigError
from helpers.features import FeatureSettings


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

    def input_shape(self) -> tuple[int, ...]:
        """Shape of one network input: (n_mels * frames,) or (patch_size, patch_size)."""
        if self.config["inputs"]["kind"] == "patches":
            size = self.config["inputs"]["patch_size"]
            return (size, size)
        return (self.features.dims,)

    def build_model(self):
        return self.model_module.build_model(self.input_shape(), **self.config["model"])

    def fingerprint(self) -> str:
        """A hash of every setting that changes a trained model (not the Lightning trainer's placement)."""
        relevant = {k: v for k, v in self.config.items() if k not in ("trainer", "scoring", "description")}
        source = (self.folder / "model.py").read_bytes()
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


def _check_model_settings(module: ModuleType, settings: dict, where: str) -> None:
    signature = inspect.signature(module.build_model)
    params = list(signature.parameters.values())[1:]
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return
    accepted = {p.name for p in params}
    for key in settings:
        if key not in accepted:
            raise config_module.unknown_setting_error(key, accepted, f"{where} [model]")


def load(folder: str | Path = ".", overrides: dict | None = None, run_name: str | None = None) -> Solution:
    """Load the solution in `folder` (a notebook's own folder by default), with overrides applied."""
    folder = Path(folder).resolve()
    config = config_module.load(folder / "config.yaml", overrides)
    module = import_model(folder)
    _check_model_settings(module, config["model"], str(folder / "config.yaml"))
    return Solution(folder.name, folder, config, module, run_name or folder.name)
