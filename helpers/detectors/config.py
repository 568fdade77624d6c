"""A solution's settings: its ``config.yaml``, checked, with notebook overrides applied.

config.yaml holds the top-level keys of :data:`SCHEMA` (features, inputs, training, trainer,
scoring) and :data:`TOP_LEVEL` (framework, description, notebook), and a free ``model`` section
whose keys are the keyword arguments of the solution's ``build_model``. A misspelt key or a value
of the wrong type is a ConfigError that names the file, the key and what is accepted.

The ``notebook`` section says what the solution's notebooks (rendered from one template by
helpers.execution.notebooks) show beyond the shared cells: ``title`` (their headings start with it),
``about`` (their introduction; default: ``description``) and ``parameters``, solution-specific
notebook parameters, each an UPPER_CASE name mapped to ``setting`` (the setting it overrides: a
key of :data:`SCHEMA` as ``section.name``, or ``model.<build_model argument>``, which
helpers.detectors.solution checks against build_model) and ``comment`` (its meaning and valid values)::

    notebook:
      parameters:
        KL_WEIGHT: {setting: model.kl_weight, comment: "weight of the KL term (float ≥ 0)"}
"""
from __future__ import annotations

import copy
import difflib
import re
from pathlib import Path

import yaml

from helpers.detectors import densities, objectives, scoring
from helpers.errors import ConfigError
from helpers.data.features import FeatureSettings
from helpers.detectors.inputs import KINDS

NUMBER = (int, float)
# section -> key -> (default, accepted types, description of accepted values)
SCHEMA = {
    "features": {
        "n_mels": (128, int, "positive integer"),
        "frames": (5, int, "positive integer"),
        "n_fft": (1024, int, "positive integer"),
        "hop_length": (512, int, "positive integer"),
        "power": (2.0, NUMBER, "positive number"),
        "sample_rate": (16_000, int, "positive integer (Hz)"),
        "channel": (0, int, "integer ≥ 0: the channel of a multichannel clip that is read (0: the first; DCASE 2026 "
                            "clips have two microphones)"),
    },
    "inputs": {
        "kind": ("vectors", str, f"one of {', '.join(KINDS)} (helpers.detectors.inputs)"),
        "patch_size": (64, int, "positive integer, equal to features.n_mels"),
        "patch_step": (32, int, "positive integer (frames between test crops)"),
        "segment_frames": (64, int, "positive integer (frames of one log-mel segment)"),
        "segment_step": (32, int, "positive integer (frames between test segments)"),
        "crops_per_clip": (8, int, "positive integer (random training crops per clip per epoch)"),
        "spectrum_bins": (8192, int, "positive integer, a multiple of features.n_mels (bands of the whole clip's "
                                     "spectrum that inputs.kind 'segments_spectrum' appends to each segment)"),
        "extractor": ("aisfx", str, "the frozen network of inputs.kind 'embeddings': 'aisfx' or a Python file "
                                    "defining build_extractor(checkpoint), relative to the solution folder "
                                    "(helpers.detectors.pretrained)"),
        "checkpoint": ("", str, "the extractor's weights, a file relative to the solution folder; '' : its own "
                                "(aisfx: the installed package's)"),
    },
    "training": {
        "epochs": (100, int, "positive integer"),
        "batch_size": (512, int, "positive integer"),
        "learning_rate": (0.001, NUMBER, "positive number"),
        "validation_split": (0.1, NUMBER, "number in [0, 1)"),
        "shuffle": (True, bool, "true or false"),
        "seed": (0, int, "integer"),
        "objective": ("reconstruction", str, "'reconstruction' (predict the input's target), 'machine_id' "
                                             "(classify the clip's machine ID within its type) or 'pretrained' "
                                             "(train nothing: a frozen network's embeddings) (helpers.detectors.objectives)"),
        "pseudo_classes": (4, int, "integer ≥ 2: the classes a machine_id network finds in its training clips "
                                   "(k-means of their mean log-mel spectra) where they have one class only"),
        "scope": ("machine_type", str, "'machine_type' (one network per machine type) or 'all_types' (one network "
                                       "trained on every machine type of the data folder, scored per type and section)"),
        "supplemental_machine": (False, bool, "true or false: a type's clean machine clips (<type>/supplemental/, "
                                              "DCASE 2025) join its training clips as normal clips"),
        "noise_copies": (0, int, "integer ≥ 0: noisy copies of each training clip, each mixed with a noise clip of "
                                 "<type>/supplemental/ (DCASE 2025) at an SNR drawn from training.noise_snr_db "
                                 "(helpers.data.noisy)"),
        "noise_snr_db": ([-5.0, 5.0], list, "two numbers [lowest, highest]: the range the noisy copies' "
                                            "signal-to-noise ratios are drawn from, in dB"),
    },
    "trainer": {
        "accelerator": ("cpu", str, "'cpu', 'gpu', 'mps' or 'auto'"),
        "devices": (1, (int, str, list), "integer, list of device indices, or 'auto'"),
        "num_nodes": (1, int, "positive integer"),
        "strategy": ("auto", str, "'auto', 'ddp', 'ddp_spawn', ... (Lightning strategies)"),
        "precision": ("32-true", (str, int), "Lightning precision, e.g. '32-true', 'bf16-mixed', or 'auto' "
                                             "(32-true: a reduced precision is used only when named)"),
    },
    "scoring": {
        "batch_size": (8192, int, "positive integer (items per forward pass at test time)"),
        "backend": ("mse", str, "the objective's own score ('mse' for reconstruction, 'nll' for machine_id) "
                                "or a density back end: 'mahalanobis', 'knn', 'gmm'"),
        "vectors": ("auto", str, "what a density back end is fitted on: 'auto', 'error' or 'embedding'"),
        "neighbours": (5, int, "positive integer (k of the knn back end)"),
        "components": (4, int, "positive integer (Gaussian components of the gmm back end)"),
        "fit_items": (20000, int, "positive integer (training vectors per section and domain the knn and gmm "
                                  "back ends keep)"),
        "domains": ("pooled", str, "'pooled' (one density per section) or 'separate' (one per domain of the "
                                   "training clips, source and target; an item takes the smaller score)"),
        "metric": ("euclidean", str, "'euclidean' or 'cosine' (vectors L2-normalised before a density back end)"),
        "covariance": ("ledoit_wolf", str, "'ledoit_wolf' (shrunk) or 'sample' (the mahalanobis back end's "
                                           "covariance estimate)"),
        "oversample_target": (0.0, NUMBER, "number ≥ 0: 0 (off) or the target/source ratio SMOTE fills each "
                                           "section's target vectors up to before fitting (e.g. 0.2)"),
        "smote_neighbours": (2, int, "positive integer (the target neighbours SMOTE interpolates towards)"),
        "threshold_quantile": (0.9, NUMBER, "number in (0, 1): the point of the gamma distribution fitted to the "
                                            "training clips' scores above which a clip is decided anomalous"),
    },
}
# the notebook section's keys, and those of each of its parameters (no default: required)
NOTEBOOK = {
    "title": ("", str, "text (the notebooks' headings start with it; default: none)"),
    "about": ("", str, "text (the notebooks' introduction; default: description)"),
    "parameters": ({}, dict, "mapping of UPPER_CASE parameter names to {setting, comment}"),
}
PARAMETER = {
    "setting": (None, str, "the setting the parameter overrides: 'section.name' or 'model.<build_model argument>'"),
    "comment": (None, str, "text: the parameter's meaning and valid values"),
}
PARAMETER_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
TOP_LEVEL = {
    "framework": ("torch", str, "'torch' (Lightning) or 'keras' (TensorFlow)"),
    "description": ("", str, "text"),
    "model": ({}, dict, "mapping of build_model keyword arguments"),
    "notebook": ({k: v[0] for k, v in NOTEBOOK.items()}, dict, "mapping with title, about and parameters"),
}
SCOPES = ("machine_type", "all_types")  # what one trained network covers (helpers.detectors.detector)
CHOICES = {("framework",): ("torch", "keras"), ("inputs", "kind"): tuple(KINDS),
           ("training", "objective"): tuple(objectives.OBJECTIVES), ("training", "scope"): SCOPES,
           ("scoring", "vectors"): scoring.VECTORS, ("scoring", "domains"): densities.DOMAINS,
           ("scoring", "metric"): densities.METRICS, ("scoring", "covariance"): densities.COVARIANCES}


def defaults() -> dict:
    """Every setting at its default value."""
    config = {section: {k: copy.deepcopy(v[0]) for k, v in keys.items()} for section, keys in SCHEMA.items()}
    config.update({key: copy.deepcopy(spec[0]) for key, spec in TOP_LEVEL.items()})
    return config


def setting_names() -> list[str]:
    """Every setting of :data:`SCHEMA` as 'section.name' (model settings are 'model.<name>')."""
    return [f"{section}.{name}" for section, keys in SCHEMA.items() for name in keys]


def unknown_setting_error(key: str, known, where: str) -> ConfigError:
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"{where}: unknown setting {key!r}{hint}; accepted: {', '.join(sorted(known))}")


def _check_value(name: str, value, spec, where: str):
    _, types, accepted = spec
    types = types if isinstance(types, tuple) else (types,)
    if isinstance(value, bool) and bool not in types:
        ok = False
    else:
        ok = isinstance(value, types)
    if not ok:
        raise ConfigError(f"{where}: setting {name!r} must be {accepted}, got {value!r}")
    if isinstance(value, NUMBER) and not isinstance(value, bool) and "positive" in accepted and value <= 0:
        raise ConfigError(f"{where}: setting {name!r} must be {accepted}, got {value!r}")
    return float(value) if types == NUMBER else value


def _check_keys(raw: dict, spec: dict, where: str) -> dict:
    """`raw` checked against `spec` (key -> (default, types, accepted)) and completed with the defaults;
    a key whose default is None is required."""
    for key in raw:
        if key not in spec:
            raise unknown_setting_error(key, spec, where)
    missing = [key for key, (default, _, _) in spec.items() if default is None and key not in raw]
    if missing:
        raise ConfigError(f"{where}: missing setting(s) {missing}; each of {', '.join(spec)} is needed")
    return {key: _check_value(key, raw[key], item, where) if key in raw else copy.deepcopy(item[0])
            for key, item in spec.items()}


def _check_notebook(raw: dict, where: str) -> dict:
    """The notebook section checked (:data:`NOTEBOOK`, :data:`PARAMETER`) and completed with its defaults."""
    section = _check_keys(raw, NOTEBOOK, f"{where} [notebook]")
    known = setting_names()
    for name, spec in section["parameters"].items():
        place = f"{where} [notebook.parameters.{name}]"
        if not isinstance(name, str) or not PARAMETER_NAME.fullmatch(name):
            raise ConfigError(f"{where} [notebook.parameters]: parameter name {name!r} must be UPPER_CASE "
                              f"(capital letters, digits and _, starting with a letter), e.g. "
                              f"{re.sub(r'[^A-Z0-9_]', '_', str(name).upper())!r}")
        if not isinstance(spec, dict):
            raise ConfigError(f"{place}: expected a mapping with {', '.join(PARAMETER)}, got {spec!r}")
        spec = section["parameters"][name] = _check_keys(spec, PARAMETER, place)
        group, _, key = spec["setting"].partition(".")
        if not (spec["setting"] in known or (group == "model" and key.isidentifier())):
            raise unknown_setting_error(spec["setting"], known + ["model.<build_model argument>"], place)
    return section


def validate(raw: dict, where: str) -> dict:
    """Defaults overlaid with `raw`, every key and type checked; `where` names the source in errors."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of settings, got {type(raw).__name__}")
    config = defaults()
    for key, value in raw.items():
        if key in SCHEMA:
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: section {key!r} must be a mapping, got {value!r}")
            for name, item in value.items():
                if name not in SCHEMA[key]:
                    raise unknown_setting_error(name, SCHEMA[key], f"{where} [{key}]")
                config[key][name] = _check_value(f"{key}.{name}", item, SCHEMA[key][name], where)
        elif key in TOP_LEVEL:
            config[key] = _check_value(key, value, TOP_LEVEL[key], where)
            if key == "notebook":
                config[key] = _check_notebook(value, where)
        else:
            raise unknown_setting_error(key, list(SCHEMA) + list(TOP_LEVEL), where)
    for path, choices in CHOICES.items():
        value = config[path[0]] if len(path) == 1 else config[path[0]][path[1]]
        if value not in choices:
            raise ConfigError(f"{where}: setting {'.'.join(path)!r} must be one of {choices}, got {value!r}")
    if not 0 <= config["training"]["validation_split"] < 1:
        raise ConfigError(f"{where}: setting 'training.validation_split' must be in [0, 1), "
                          f"got {config['training']['validation_split']!r}")
    if config["training"]["pseudo_classes"] < 2:
        raise ConfigError(f"{where}: setting 'training.pseudo_classes' must be an integer ≥ 2, "
                          f"got {config['training']['pseudo_classes']!r}")
    if config["training"]["noise_copies"] < 0:
        raise ConfigError(f"{where}: setting 'training.noise_copies' must be an integer ≥ 0, "
                          f"got {config['training']['noise_copies']!r}")
    snr = config["training"]["noise_snr_db"]
    if len(snr) != 2 or not all(isinstance(v, NUMBER) and not isinstance(v, bool) for v in snr) or snr[0] > snr[1]:
        raise ConfigError(f"{where}: setting 'training.noise_snr_db' must be two numbers [lowest, highest] in dB, "
                          f"e.g. [-5, 5], got {snr!r}")
    if config["scoring"]["oversample_target"] < 0:
        raise ConfigError(f"{where}: setting 'scoring.oversample_target' must be 0 (off) or a positive "
                          f"target/source ratio, got {config['scoring']['oversample_target']!r}")
    if not 0 < config["scoring"]["threshold_quantile"] < 1:
        raise ConfigError(f"{where}: setting 'scoring.threshold_quantile' must be in (0, 1), "
                          f"got {config['scoring']['threshold_quantile']!r}")
    scoring.check(objectives.objective(config["training"]["objective"]), config["scoring"]["backend"],
                  config["scoring"]["vectors"], where)
    feature_settings(config, where)
    return config


def load(path: str | Path, overrides: dict | None = None) -> dict:
    """Read and check a config.yaml, then apply `overrides` ({"training.epochs": 5, ...}; None = keep)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"settings file {path} not found; every solution folder needs a config.yaml")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from err
    config = validate(raw, str(path))
    return apply_overrides(config, overrides or {}, str(path))


def apply_overrides(config: dict, overrides: dict, where: str) -> dict:
    """A copy of `config` with dotted-key overrides applied and checked; None values are ignored
    (`config` itself, checked once already, when every value is None: a notebook's defaults)."""
    if all(value is None for value in overrides.values()):
        return config
    merged = copy.deepcopy(config)
    raw = {k: v for k, v in config.items() if k not in SCHEMA}
    for key, value in overrides.items():
        if value is None:
            continue
        section, _, name = key.partition(".")
        if section == "model" and name:
            merged["model"][name] = value
            continue
        if section not in SCHEMA or not name:
            raise unknown_setting_error(key, setting_names() + ["model.<name>"], f"override of {where}")
        if name not in SCHEMA[section]:
            raise unknown_setting_error(name, SCHEMA[section], f"override of {where} [{section}]")
        merged[section][name] = value
    sections = {s: merged[s] for s in SCHEMA}
    return validate({**sections, **{k: merged[k] for k in raw}}, f"{where} (with overrides)")


def feature_settings(config: dict, where: str = "config") -> FeatureSettings:
    """The FeatureSettings of a checked config."""
    try:
        return FeatureSettings(**config["features"])
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from err
