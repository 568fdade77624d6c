"""A detector: one trained network and everything it scores and decides with, fitted together.

A detector spans the machine types its network was trained on: one (every solution whose
``training.scope`` is ``machine_type``) or every type of a data folder (``all_types``). It owns

- the network (its weights), trained for the solution's objective (helpers.detectors.objectives) on the
  classes :attr:`Detector.classes` where the objective learns classes;
- the scorer: the objective's own score, or a density back end (helpers.detectors.densities) fitted per
  machine type and section (and domain, where scoring asks) on the vectors the network gives for
  the training items;
- the decision thresholds per machine type and section (helpers.detectors.decisions), fitted on the
  training clips' scores under that scorer.

:meth:`Detector.fit_scoring` fits the scorer and the thresholds in one pass of the network over
the training clips, whose log-mels the training has in memory; :meth:`Detector.score` and
:meth:`Detector.decide` score and decide any clips. A detector is saved as one ``.npz`` file
(:func:`detector_path`): the network's weights, the back end's arrays, and its settings,
classes, thresholds and training clips as JSON, no pickled object (loading runs no code),
written whole or not at all. Its network is built from the weights when first used.

Framework modules: :func:`engine` runs, and restores the networks of, a solution's framework;
:func:`trainer` trains them.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from helpers import allocator, threads
from helpers.data import layout
from helpers.detectors import decisions, densities, scoring
from helpers.errors import ToolkitError
from helpers.fileio import atomic_path
from helpers.detectors.inputs import Items
from helpers.detectors.solution import Solution

FILE_FORMAT = 2  # 2: a density back end's arrays per section and domain
ALL_TYPES = "all_types"  # the scope name of a network trained on every machine type of a data folder
# framework -> (the module that runs and restores its networks, the module that trains them)
ENGINES = {"torch": ("helpers.detectors.torch_backend", "helpers.detectors.torch_training"),
           "keras": ("helpers.detectors.keras_backend", "helpers.detectors.keras_backend")}


def engine(solution: Solution):
    """The framework module that runs and restores this solution's networks (TensorFlow only for keras).

    From the first call on, freed tensor memory is kept for reuse (helpers.allocator).
    """
    allocator.keep_freed_memory()
    if solution.framework == "torch":
        threads.apply_to_torch()
    return importlib.import_module(ENGINES[solution.framework][0])


def trainer(solution: Solution):
    """The framework module that trains this solution's networks (Lightning only for torch, imported on first use)."""
    return importlib.import_module(ENGINES[solution.framework][1])


def scopes(solution: Solution, machine_types: list[str]) -> list[list[str]]:
    """The machine types each network of this solution is trained on: one list per network."""
    if solution.config["training"]["scope"] == ALL_TYPES:
        return [list(machine_types)]
    return [[t] for t in machine_types]


def scope_name(solution: Solution, machine_types: list[str]) -> str:
    """The name of a network's scope in file names: its machine type, or ALL_TYPES."""
    return ALL_TYPES if solution.config["training"]["scope"] == ALL_TYPES else machine_types[0]


def detector_path(result_dir: Path, scope: str) -> Path:
    return Path(result_dir) / f"detector_{scope}.npz"


def scoring_key(solution: Solution, fingerprint: str) -> str:
    """The network's fingerprint extended by every scoring setting that changes a score or a decision:
    a back end and thresholds fitted under another key are fitted anew."""
    settings = {k: v for k, v in solution.config["scoring"].items() if k != "batch_size"}
    return hashlib.sha1(f"{fingerprint}+{sorted(settings.items())}".encode()).hexdigest()[:12]


@dataclass
class Detector:
    """One trained network with its scorer and decision thresholds (see the module docstring).

    machine_types: the types it was trained on; fingerprint: the settings (and training data)
    fingerprint of its network; classes: the classes its network tells apart, in output order
    (None: its objective learns none); train_clips: {type: the paths of its usable training
    clips}; densities: {type: fitted back end} (empty under the objective's own score);
    thresholds: {type: {section: Threshold}}; fitted_for: the scoring key (:func:`scoring_key`)
    the back end and thresholds were fitted under ("" before :meth:`fit_scoring`).
    """

    solution: Solution
    machine_types: list[str]
    fingerprint: str
    classes: list[str] | None
    train_clips: dict[str, list[str]]
    weights: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    densities: dict[str, densities.Density] = field(default_factory=dict, repr=False)
    thresholds: dict[str, dict[str, decisions.Threshold]] = field(default_factory=dict)
    fitted_for: str = ""
    _net: object = field(default=None, repr=False)

    @classmethod
    def trained(cls, solution: Solution, net, clips: list[layout.Clip], fingerprint: str,
                classes: list[str] | None) -> Detector:
        """A detector around a network just trained on `clips` (its scorer not fitted yet)."""
        types = list(dict.fromkeys(c.machine_type for c in clips))
        listed = {t: [str(c.path) for c in clips if c.machine_type == t] for t in types}
        return cls(solution, types, fingerprint, classes, listed, _net=net)

    @property
    def engine(self):
        return engine(self.solution)

    @property
    def net(self):
        """The network, restored from its weights when first asked for."""
        if self._net is None:
            self._net = self.engine.restore(self.solution, self.weights, len(self.classes) if self.classes else None)
        return self._net

    @property
    def density_kind(self) -> str | None:
        """The density back end the solution's scoring names, or None for the objective's own score."""
        backend = self.solution.config["scoring"]["backend"]
        return backend if backend in densities.BACKENDS else None

    @property
    def score_label(self) -> str:
        return scoring.score_label(self.solution.objective, self.solution.config["scoring"]["backend"])

    def training_clips(self, machine_type: str) -> list[layout.Clip]:
        """The usable training clips of one of its machine types, as its training listed them."""
        return [layout.parse_clip(p, machine_type, "train") for p in self.train_clips.get(machine_type, [])]

    def current(self) -> bool:
        """Whether its scorer and thresholds were fitted under the solution's scoring settings."""
        return self.fitted_for == scoring_key(self.solution, self.fingerprint)

    def items(self, clips: list[layout.Clip], log_mels: list[np.ndarray]) -> Items:
        """The test-time network inputs of these clips, labelled with their places among its classes."""
        return self.solution.input_kind.build(log_mels, self.solution.config["inputs"], self.solution.features,
                                              False, self.solution.config["training"]["seed"],
                                              self.solution.objective.labels(clips, self.classes), clips)

    def _outputs(self, items: Items, keep_predictions: bool = False) -> scoring.ItemOutputs:
        vectors = scoring.vector_kind(self.solution.objective, self.solution.config["scoring"]["vectors"])
        kind = vectors if self.density_kind else None
        return scoring.item_outputs(self.engine, self.net, items, self.solution.objective,
                                    self.solution.config["scoring"]["batch_size"], vectors=kind,
                                    keep_predictions=keep_predictions, own_scores=kind is None)

    def _density_scores(self, vectors: np.ndarray, types: np.ndarray, sections: np.ndarray) -> np.ndarray:
        scores = np.full(len(vectors), np.nan)
        for machine_type in dict.fromkeys(types.tolist()):
            chosen = types == machine_type
            scores[chosen] = self.densities[self._known(machine_type)].score(vectors[chosen], sections[chosen])
        return scores

    def _known(self, machine_type: str) -> str:
        if machine_type not in self.machine_types:
            raise ToolkitError(f"this {self.solution.run_name} detector was trained on {self.machine_types}, not on "
                               f"{machine_type!r}; train it again with {machine_type} in the data folder")
        return machine_type

    def item_outputs(self, clips: list[layout.Clip], log_mels: list[np.ndarray],
                     keep_predictions: bool = False) -> tuple[Items, scoring.ItemOutputs]:
        """(the clips' items, every item's score under the solution's scoring, and the network's
        outputs when asked)."""
        items = self.items(clips, log_mels)
        outputs = self._outputs(items, keep_predictions)
        if self.density_kind:
            types, sections = (np.array([getattr(c, key) for c in clips])[items.clip_of]
                               for key in ("machine_type", "section"))
            outputs.scores = self._density_scores(outputs.vectors, types, sections)
        return items, outputs

    def fit_scoring(self, clips: list[layout.Clip], log_mels: list[np.ndarray]) -> None:
        """Fit the scorer (a density back end per machine type, if scoring names one) and the decision
        thresholds per machine type and section, in one pass of the network over the training clips."""
        settings = self.solution.config["scoring"]
        items = self.items(clips, log_mels)
        outputs = self._outputs(items)
        types, sections = (np.array([getattr(c, key) for c in clips]) for key in ("machine_type", "section"))
        item_scores = outputs.scores
        if self.density_kind:
            item_types, item_sections = types[items.clip_of], sections[items.clip_of]
            item_domains = np.array([c.domain or "source" for c in clips])[items.clip_of]
            seed = self.solution.config["training"]["seed"]
            self.densities = {t: densities.fit(self.density_kind, outputs.vectors[item_types == t],
                                               item_sections[item_types == t], settings, seed,
                                               item_domains[item_types == t])
                              for t in self.machine_types}
            item_scores = self._density_scores(outputs.vectors, item_types, item_sections)
        else:
            self.densities = {}
        clip_scores = scoring.clip_scores(item_scores, items.clip_of, len(clips))
        self.thresholds = {t: decisions.fit_groups(clip_scores[types == t], sections[types == t],
                                                   settings["threshold_quantile"]) for t in self.machine_types}
        self.fitted_for = scoring_key(self.solution, self.fingerprint)

    def score(self, clips: list[layout.Clip], log_mels: list[np.ndarray]) -> np.ndarray:
        """Each clip's anomaly score: the mean of its items' scores [shape=(clips,)] (nan for a clip of
        a class the network does not know, under a classifier's own score)."""
        items, outputs = self.item_outputs(clips, log_mels)
        return scoring.clip_scores(outputs.scores, items.clip_of, len(clips))

    def decide(self, scores: np.ndarray, clips: list[layout.Clip]) -> np.ndarray:
        """1 where a clip's score exceeds its type's and section's threshold, else 0. [shape=(clips,)]"""
        decided = np.zeros(len(clips), np.int64)
        types = np.array([c.machine_type for c in clips])
        sections = np.array([c.section for c in clips])
        for machine_type in dict.fromkeys(types.tolist()):
            chosen = types == machine_type
            decided[chosen] = decisions.decide(np.asarray(scores)[chosen], sections[chosen],
                                               self.thresholds[self._known(machine_type)])
        return decided

    def section_thresholds(self, machine_type: str) -> dict[str, float]:
        """{section: the threshold its clips are decided by} of one machine type."""
        return {g: t.threshold for g, t in self.thresholds.get(machine_type, {}).items() if g != decisions.ALL}

    def threshold(self, machine_type: str, section: str) -> float | None:
        """The threshold a clip of this type and section is decided by (None for a type it lacks)."""
        fitted = self.thresholds.get(machine_type)
        return decisions.threshold_of(fitted, section) if fitted else None

    def save(self, path: str | Path) -> Path:
        """Write the detector to one .npz file, whole or not at all."""
        weights = self.engine.weights(self._net) if self._net is not None else self.weights
        meta = {"format": FILE_FORMAT, "solution": self.solution.name, "framework": self.solution.framework,
                "objective": self.solution.objective.name, "fingerprint": self.fingerprint,
                "fitted_for": self.fitted_for, "backend": self.density_kind,
                "density_settings": {t: d.settings for t, d in self.densities.items()},
                "machine_types": self.machine_types, "classes": self.classes, "train_clips": self.train_clips,
                "thresholds": {t: {g: asdict(v) for g, v in fitted.items()} for t, fitted in self.thresholds.items()}}
        arrays = {"meta": np.array(json.dumps(meta, allow_nan=True))}
        arrays.update({f"net/{name}": value for name, value in weights.items()})
        for machine_type, density in self.densities.items():
            for group, per_domain in density.per_group.items():
                arrays.update({f"density/{machine_type}/{group}/{domain}/{name}": value
                               for domain, named in per_domain.items() for name, value in named.items()})
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, **arrays)
        return Path(path)

    @classmethod
    def load(cls, solution: Solution, path: str | Path) -> Detector:
        """The detector saved at `path`, for `solution`; ToolkitError naming a damaged file."""
        try:
            with np.load(path, allow_pickle=False) as saved:
                meta = json.loads(str(saved["meta"]))
                if meta.get("format") != FILE_FORMAT:
                    raise ValueError(f"file format {meta.get('format')!r}, this toolkit reads {FILE_FORMAT}")
                weights = {key[4:]: saved[key] for key in saved.files if key.startswith("net/")}
                per_type: dict[str, dict] = {}
                for key in saved.files:
                    if key.startswith("density/"):
                        _, machine_type, group, domain, name = key.split("/", 4)
                        per_type.setdefault(machine_type, {}).setdefault(group, {}).setdefault(domain, {})[name] = \
                            saved[key]
        except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as err:  # cut short, empty, damaged
            raise ToolkitError(f"the detector {path} cannot be read ({err}); train again (RETRAIN=True) "
                               f"or delete it") from err
        kind = meta["backend"]
        fitted = {t: densities.backend(kind)(groups, meta["density_settings"][t]) for t, groups in per_type.items()}
        thresholds = {t: {g: decisions.Threshold(**v) for g, v in groups.items()}
                      for t, groups in meta["thresholds"].items()}
        return cls(solution, meta["machine_types"], meta["fingerprint"], meta["classes"], meta["train_clips"],
                   weights, fitted, thresholds, meta["fitted_for"])
