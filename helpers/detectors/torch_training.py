"""Training the PyTorch solutions through one Lightning loop.

Where and how to train (accelerator, devices, nodes, strategy, precision) comes from the
``trainer`` section of config.yaml, so a GPU or a DDP cluster is a setting, not code. Batches,
losses and the optimiser are helpers.detectors.torch_backend's.

Interrupted training resumes: given a checkpoint path, :func:`train` saves the whole training
state there after every finished epoch (:class:`EpochCheckpoint`), and a later call with the same
settings fingerprint continues from it with the same result as an uninterrupted run on the CPU.

Trainings can run side by side in threads of one process (pipeline.train_all, one machine type
each) when :func:`trainings_at_once` allows it: each shuffles with its own generator, and the part
that seeds and uses the process-wide random generators (seeding, the network's initialisation, a
checkpoint's restore, Lightning's start) runs one training at a time (:class:`SetUpTurn`).
"""
from __future__ import annotations

import gc
import logging
import pickle
import random
import threading
import warnings
import zipfile
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
from lightning.pytorch.callbacks import Checkpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO
from tensorboardX import SummaryWriter
from torch import nn

from helpers import threads
from helpers.errors import ToolkitError
from helpers.fileio import atomic_path, atomic_write_text
from helpers.detectors.inputs import Items
from helpers.figures.liveplot import LossDisplay, history_frame
from helpers.detectors.solution import import_model
from helpers.detectors.torch_backend import loader, network_loss, optimiser

CHECKPOINT_SUFFIX = ".ckpt"
FULL_PRECISIONS = ("32-true", "32", 32, "64-true", "64", 64)  # Lightning's names of full (and double) precision
log = logging.getLogger("helpers")
# the toolkit's loaders serve batches from memory, so Lightning's advice on loader workers and on
# logging intervals for few batches does not apply (set here once: warnings.catch_warnings is not
# safe with trainings in several threads)
warnings.filterwarnings("ignore", message=".*does not have many workers.*")
warnings.filterwarnings("ignore", message=".*number of training batches.*")


class NetworkTask(L.LightningModule):
    """Trains any solution's network with Adam on its loss (:func:`network_loss`).

    The losses are summed on the module over each epoch and read once per epoch by
    EpochHistory (:meth:`epoch_means`): for networks this small, a per-step ``self.log`` costs
    about a third of the step itself.
    """

    def __init__(self, solution, learning_rate: float, classes: int | None = None):
        super().__init__()
        self.net = solution.build_model(classes)
        self.net_recipe = (str(solution.folder), solution.input_shape(), solution.model_arguments(classes))
        self.objective = solution.objective
        self.learning_rate = learning_rate
        self.sums: dict[str, list] = {}

    def __getstate__(self) -> dict:
        """For DDP's spawned processes: the network travels as its recipe and weights, since its
        class lives in a solution's model.py, which a fresh process imports by path, not by name."""
        state = super().__getstate__()
        state["_modules"] = {name: m for name, m in self._modules.items() if name != "net"}
        state["net_weights"] = self.net.state_dict()
        return state

    def __setstate__(self, state: dict) -> None:
        weights = state.pop("net_weights")
        super().__setstate__(state)
        folder, input_shape, settings = self.net_recipe
        self.net = import_model(Path(folder)).build_model(input_shape, **settings)
        self.net.load_state_dict(weights)

    def _add(self, prefix: str, losses: dict[str, torch.Tensor], size: int) -> None:
        for name, value in losses.items():
            total = self.sums.setdefault(prefix + name, [0.0, 0])
            total[0] = total[0] + value.detach() * size
            total[1] += size

    def training_step(self, batch, _):
        x, target = batch
        loss, parts = network_loss(self.net, x, target, self.objective)
        self._add("", {"loss": loss, **parts}, len(x))
        return loss

    def validation_step(self, batch, _):
        x, target = batch
        loss, _ = network_loss(self.net, x, target, self.objective)
        self._add("val_", {"loss": loss}, len(x))

    def epoch_means(self) -> dict[str, float]:
        """This epoch's item-weighted mean of every loss (averaged over the processes under DDP); resets the sums."""
        means = {name: float(self.trainer.strategy.reduce(total / count, reduce_op="mean"))
                 for name, (total, count) in sorted(self.sums.items())}
        self.sums.clear()
        return means

    def configure_optimizers(self):
        return optimiser(self.net, self.learning_rate)


class EpochHistory(L.Callback):
    """Collects the per-epoch losses, writes them as TensorBoard scalars and redraws the live figure.

    tensorboardX writes the event files (torch.utils.tensorboard would import TensorFlow). The
    first process also keeps the rows in <log_dir>/history.csv: under DDP launched by spawn or
    fork (``ddp_spawn``, ``ddp_notebook``) training runs in child processes, and that file is
    how the history reaches the caller. The live figure stays in the caller's process.
    """

    def __init__(self, display: LossDisplay | None, train_items: Items, log_dir: Path):
        self.rows: list[dict] = []
        self.display = display
        self.train_items = train_items
        self.log_dir = log_dir
        self.writer = None

    @property
    def history_path(self) -> Path:
        return self.log_dir / "history.csv"

    def __getstate__(self) -> dict:
        return {**self.__dict__, "display": None, "writer": None}

    def state_dict(self) -> dict:
        """The rows so far, for a checkpoint (a resumed run's history starts with them)."""
        return {"rows": self.rows}

    def load_state_dict(self, state_dict: dict) -> None:
        self.rows = list(state_dict["rows"])

    def on_train_epoch_start(self, trainer, module):
        threads.apply_to_torch()  # the cores this kernel may use now, when notebooks run side by side
        if trainer.current_epoch > 0:
            self.train_items.resample()

    def on_train_epoch_end(self, trainer, module):
        metrics = module.epoch_means()
        self.rows.append({"epoch": trainer.current_epoch + 1, **metrics})
        if not trainer.is_global_zero:
            return
        if self.writer is None:
            self.writer = SummaryWriter(str(self.log_dir))
        for name, value in metrics.items():
            self.writer.add_scalar(name, value, trainer.current_epoch + 1)
        atomic_write_text(self.history_path, self.history().to_csv(index=False))
        if self.display is not None:
            self.display.update(self.history())

    def on_fit_end(self, trainer, module):
        if self.writer is not None:
            self.writer.close()

    def history(self) -> pd.DataFrame:
        """The rows of this process, or (if training ran in child processes) the first process's file."""
        return history_frame(self.rows) if self.rows else pd.read_csv(self.history_path)


def random_state(train_items: Items, shuffle: torch.Generator | None) -> dict:
    """The state of every random generator that later epochs draw from, as plain tensors, lists and numbers.

    The training's `shuffle` generator, if it has one (the DataLoader draws each epoch's order
    from it), torch's global generator (a VAE's noise, dropout; the order without a shuffle
    generator), numpy's and Python's global generators, and the generator of random crops
    (Items.resample). CUDA generators are not included: GPU runs repeat only as far as their
    kernels allow anyway.
    """
    name, key, position, has_gauss, cached_gauss = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "numpy": (name, key.tolist(), position, has_gauss, cached_gauss),
             "python": random.getstate()}
    if shuffle is not None:
        state["shuffle"] = shuffle.get_state()
    crops = train_items.random_state()
    if crops is not None:
        state["crops"] = crops
    return state


def set_random_state(state: dict, train_items: Items, shuffle: torch.Generator | None) -> None:
    """Put back the generators' states saved by :func:`random_state`."""
    torch.set_rng_state(state["torch"])
    name, key, *rest = state["numpy"]
    np.random.set_state((name, np.asarray(key, dtype=np.uint32), *rest))
    random.setstate(state["python"])
    if shuffle is not None and "shuffle" in state:
        shuffle.set_state(state["shuffle"])
    train_items.set_random_state(state.get("crops"))


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, through helpers.fileio: a checkpoint is written whole or not at all."""

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        with atomic_path(path) as tmp:
            super().save_checkpoint(checkpoint, tmp, storage_options)


class EpochCheckpoint(Checkpoint):
    """Saves the whole training state to `path` after every finished epoch; puts the random state back on resume.

    The file is Lightning's checkpoint (weights with BatchNorm buffers, optimiser state, loop
    position, the history rows of EpochHistory) plus this callback's state: the settings
    `fingerprint`, the epochs finished and :func:`random_state`. Lightning runs checkpoint
    callbacks after all others, so the epoch's history row is in it. Only the first process
    writes (Lightning's strategy does so under DDP). Resumed by ``fit(ckpt_path=...)``, the random
    state is put back as the checkpoint is loaded: Lightning creates the first epoch's DataLoader
    iterator (which draws from the shuffle generator) as training starts, before any epoch hook runs.
    """

    def __init__(self, path: Path, fingerprint: str, train_items: Items, shuffle: torch.Generator | None):
        self.path = path
        self.fingerprint = fingerprint
        self.train_items = train_items
        self.shuffle = shuffle
        self.epochs = 0

    def state_dict(self) -> dict:
        return {"fingerprint": self.fingerprint, "epochs": self.epochs,
                "random": random_state(self.train_items, self.shuffle)}

    def load_state_dict(self, state_dict: dict) -> None:
        self.epochs = state_dict["epochs"]
        set_random_state(state_dict["random"], self.train_items, self.shuffle)

    def on_train_epoch_end(self, trainer, module):
        self.epochs = trainer.current_epoch + 1
        trainer.save_checkpoint(self.path, weights_only=False)


def resumable_epochs(path: Path, fingerprint: str) -> int:
    """The epochs finished in the checkpoint at `path`, if a training with `fingerprint` can resume from it.

    Raises ToolkitError naming the file and the reason when it cannot: it is cut short or not a
    file that torch.save wrote (a zip archive), it is damaged (a member fails its CRC check) or
    cannot be read, it is not a training checkpoint of this toolkit, or it was saved by a training
    with other settings or training data. It is read with ``weights_only`` (tensors and plain
    values only), so a foreign file runs no code.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise ToolkitError(f"checkpoint {path} is cut short or was not written by torch.save "
                           f"(a checkpoint is a whole zip archive)") from err
    if damaged is not None:
        raise ToolkitError(f"checkpoint {path} is damaged ({damaged} fails its CRC check)")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as err:
        raise ToolkitError(f"checkpoint {path} cannot be read ({str(err).splitlines()[0]})") from err
    state = saved.get("callbacks", {}).get(EpochCheckpoint.__qualname__) if isinstance(saved, dict) else None
    if not isinstance(state, dict) or not {"state_dict", "optimizer_states", "loops"} <= saved.keys():
        raise ToolkitError(f"checkpoint {path} is not a training checkpoint of this toolkit (expected Lightning's "
                           f"training state with an {EpochCheckpoint.__qualname__} entry)")
    if state.get("fingerprint") != fingerprint:
        raise ToolkitError(f"checkpoint {path} was saved by a training with other settings or training data "
                           f"(fingerprint {state.get('fingerprint')}, this training has {fingerprint})")
    return int(state["epochs"])


def _resume_from(checkpoint: Path, fingerprint: str, epochs: int, name: str) -> Path | None:
    """`checkpoint` if training can resume from it (says so in one printed line), else None.

    A checkpoint that cannot be resumed is reported with a warning naming it and the reason, and removed.
    """
    if not checkpoint.is_file():
        return None
    try:
        done = resumable_epochs(checkpoint, fingerprint)
    except ToolkitError as err:
        log.warning("%s; removed it, training starts over", err)
        checkpoint.unlink(missing_ok=True)
        return None
    print(f"{name}: resuming from the checkpoint after epoch {done} of {epochs} ({checkpoint})", flush=True)
    return checkpoint


class SetUpTurn(L.Callback):
    """One training at a time from its seeding to its first epoch: the process-wide random
    generators that seeding, the network's initialisation, a checkpoint's restore and Lightning's
    start (which saves and puts back torch's generator) set or draw from are shared by all threads.

    Used as a context manager around the whole training and as a callback of its trainer: the turn
    is taken on entering and handed on when the first epoch starts, or on leaving if it never does.
    """

    _lock = threading.Lock()

    def __init__(self):
        self.holding = False

    def __getstate__(self) -> dict:
        return {"holding": False}  # a process that DDP spawns holds no turn of this one

    def __enter__(self):
        self._lock.acquire()
        self.holding = True
        return self

    def _hand_on(self) -> None:
        if self.holding:
            self.holding = False
            self._lock.release()

    def on_train_start(self, trainer, module):
        self._hand_on()

    def __exit__(self, *exc):
        self._hand_on()


class TrainingStopped(ToolkitError):
    """A training ended after a batch because its caller asked it to (:class:`StopWhenAsked`)."""


class StopWhenAsked(L.Callback):
    """Ends the training after the current batch once `event` is set (a training beside others
    that failed or were interrupted); its checkpoint keeps the last finished epoch."""

    def __init__(self, event: threading.Event, name: str):
        self.event, self.name = event, name

    def on_train_batch_end(self, trainer, *args):
        if self.event.is_set():
            raise TrainingStopped(f"training of {self.name} stopped: a training beside it failed or was interrupted")


def draws_global_randomness(solution) -> bool:
    """Whether a training step of the solution's network draws from torch's, numpy's or Python's
    process-wide random generators (dropout, a VAE's noise): tried once on a fresh network and a
    batch of two random inputs, the generators put back as they were afterwards."""
    items = solution.input_kind.random(solution.config["inputs"], solution.features, [0, 1])
    index = np.arange(min(2, len(items)))
    batch = items.batch(index)
    x, target = torch.from_numpy(batch), torch.from_numpy(solution.objective.training_target(items, index, batch))

    def states():
        _, key, position, *_ = np.random.get_state()
        return torch.get_rng_state().numpy().tobytes(), key.tobytes(), position, random.getstate()

    numpy_state, python_state = np.random.get_state(), random.getstate()
    with torch.random.fork_rng(devices=[]):
        net = solution.build_model(2).train()  # 2 classes, for an objective that learns classes
        before = states()
        network_loss(net, x, target, solution.objective)[0].backward()
        drew = states() != before
    np.random.set_state(numpy_state)
    random.setstate(python_state)
    return drew


def one_device(trainer_settings: dict) -> bool:
    """Whether the trainer settings train in this process on one device (no DDP)."""
    return (trainer_settings["devices"] in (1, "1") and trainer_settings["num_nodes"] == 1
            and trainer_settings["strategy"] in ("auto", "single_device"))


def trainings_at_once(solution, wanted: int, cores: int | None = None) -> int:
    """How many of `wanted` trainings of this solution (one per machine type) run side by side in
    threads: up to one per core of this kernel's share (helpers.threads), when they train on one CPU
    device and the network's training step draws nothing from the process-wide random generators,
    so that no training's result depends on another; else 1 (one after another, as on a GPU).

    Two dense-autoencoder trainings of one thread each do about 1.5 times the work of one training
    on two threads: the small layers' operations do not spread well over two cores.
    """
    cores = cores or threads.cores()
    one_cpu = solution.config["trainer"]["accelerator"] == "cpu" and one_device(solution.config["trainer"])
    if wanted < 2 or cores < 2 or not one_cpu or draws_global_randomness(solution):
        return 1
    return min(wanted, cores)


def resolved_precision(trainer_settings: dict):
    """trainer.precision as Lightning takes it: "auto" is "32-true" on every device; any other value as it is.

    A precision is a speed setting and may never change what a model detects, so "auto" never
    picks a reduced one by itself: bf16-mixed on a CPU with native bf16 (AVX-512 BF16, AMX) takes
    about a third less time an epoch for the dense autoencoder, but it changes the arithmetic of
    every product and has not been shown to give fp32's figures (docs/solutions.md, GPUs and several
    machines). Named, it is used, and :func:`train` says so.
    """
    precision = trainer_settings["precision"]
    return "32-true" if precision == "auto" else precision


def train(solution, train_items: Items, val_items: Items | None, log_dir: str | Path,
          log_name: str, display: LossDisplay | None = None, checkpoint: Path | None = None,
          fingerprint: str = "", classes: int | None = None,
          stop: threading.Event | None = None) -> tuple[nn.Module, pd.DataFrame]:
    """Train a network of `solution` on `train_items`; returns it and its loss history.

    `classes`: the number of classes a classifier tells apart (helpers.detectors.objectives). With `checkpoint`,
    the training state is saved there after every finished epoch (see :class:`EpochCheckpoint`),
    and a checkpoint already there that was saved with the same `fingerprint` is resumed from:
    training continues after its last epoch and gives the same network and history as an
    uninterrupted run. One that cannot be resumed is reported and removed, and training starts
    over. The caller removes the checkpoint once the model is saved. `stop`: an event that ends
    the training after its current batch (TrainingStopped), for trainings side by side.
    """
    training = solution.config["training"]
    trainer_settings = {**solution.config["trainer"], "precision": resolved_precision(solution.config["trainer"])}
    if trainer_settings["precision"] not in FULL_PRECISIONS:
        log.warning("%s: training in trainer.precision %r, a speed setting whose figures can leave the spread of "
                    "full precision (32-true, what `auto` takes and regression/expected.csv records)",
                    log_name, trainer_settings["precision"])
    # its own shuffle generator on one device (trainings side by side share no generator); under
    # DDP, Lightning's distributed sampler shuffles by the seed and epoch (and a generator could not
    # travel to the processes that ddp_spawn starts)
    shuffle = torch.Generator().manual_seed(training["seed"]) if one_device(trainer_settings) else None
    with SetUpTurn() as turn:
        L.seed_everything(training["seed"], workers=True, verbose=False)
        task = NetworkTask(solution, training["learning_rate"], classes)
        history = EpochHistory(display, train_items, Path(log_dir) / log_name)
        callbacks = ([turn, history] + ([EpochCheckpoint(checkpoint, fingerprint, train_items, shuffle)] if checkpoint else [])
                     + ([StopWhenAsked(stop, log_name)] if stop is not None else []))
        resume = _resume_from(checkpoint, fingerprint, training["epochs"], log_name) if checkpoint else None
        logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
        trainer = L.Trainer(
            max_epochs=training["epochs"], callbacks=callbacks, plugins=[AtomicCheckpointIO()],
            logger=False,
            enable_checkpointing=checkpoint is not None, enable_progress_bar=False, enable_model_summary=False,
            num_sanity_val_steps=0, deterministic=True, **trainer_settings,
        )
        objective = solution.objective
        val_loader = (loader(val_items, training["batch_size"], False, objective)
                      if val_items is not None and len(val_items) else None)
        train_loader = loader(train_items, training["batch_size"], training["shuffle"], objective, shuffle)
        trainer.fit(task, train_loader, val_loader, ckpt_path=resume, weights_only=True)
    net, rows = task.net.cpu().eval(), history.history()
    # the trainer, the module and the callbacks refer to each other (and to the training items): free them
    # now, before the next machine type's data is loaded, not whenever the collector next runs (~130 MB)
    del trainer, task, history, callbacks, turn
    gc.collect()
    return net, rows
