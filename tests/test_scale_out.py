"""Beyond one process: the pytorch solution trains with Lightning's DDP (two CPU processes, gloo,
``ddp_spawn``, batch 256 each), and a DDP step is exactly one single-process step.

What DDP does (Lightning 2.6, torch DDP): each process's training DataLoader gets a
DistributedSampler (shuffled with seed PL_GLOBAL_SEED, which seed_everything sets to
``training.seed``; ``set_epoch`` at every epoch; padded so that every process has as many items,
hence equal batches at every step). Each process computes its loss on its own 256 items, with
BatchNorm statistics over those 256; DDP averages the gradients over the processes and, before
every forward pass, gives all processes the first one's buffers (the BatchNorm running
statistics); the network handed back is the first process's. So step k of the DDP run is one
single-process step on [process 0's k-th batch, process 1's k-th batch] (:class:`RankInterleaved`)
whose loss is the mean of the two halves' losses, each half normalised over itself, and whose
running statistics follow the first half only (:class:`StepsOfProcesses`). (Synchronised
BatchNorm would make it a plain step on 512 items, but torch's DDP refuses SyncBatchNorm on the
CPU: "SyncBatchNorm layers only work with GPU modules".)

Every run here computes on one thread (fixture one_thread: OMP_NUM_THREADS=1 for the spawned
processes, which Lightning then leaves alone, torch.set_num_threads(1) in this process), so its
arithmetic depends on the CPU only, not on its cores. In
test_ddp_equals_a_single_process_taking_its_steps each half is then the same float computation,
on the same shapes, as in its process, and averaging two gradients is exact either way (halving
is exact, a sum of two terms does not depend on their order): training is the same bit for bit
and so are the clip scores. The logged loss is summed in another order (each process's mean,
then their mean, against one mean over the same terms): about 16 float32 roundings, 16 * 2**-24
= 1e-6 relative. Stated as: every epoch's training loss and every clip score within a relative
1e-5. Measured on an AMD EPYC (2 cores), the test file run as it is, under torch.set_num_threads
1 and 2 and under OMP_NUM_THREADS=1: scores equal, losses 1.2e-7 apart (after 15 epochs too:
scores equal, losses 1.7e-7). One thread and few epochs (EPOCHS_EXACT = 2, so that the second
epoch's reshuffle is compared too) are part of the construction: Adam divides each gradient by
its own size, so a last-bit difference in a near-zero gradient becomes a step of the learning
rate's size and grows from there; with the single process on 2 threads and the DDP processes on
one, the scores were 4e-4 apart after 1 epoch, 8e-4 after 2 and 10 % after 15. Each deliberate
error in the single process fails the test (measured): process 1's batches one step late (loss
6e-5 apart), no ``set_epoch`` (second epoch's loss 1.1e-4), running statistics of both halves
(scores 1.4e-3) or of the second half (scores 9e-5).

test_ddp_trains_like_a_single_process_with_its_batch is the wide check of the default recipe on
several processes: 2 x 256 against one process with 512 items per step, 15 epochs. They differ
as two seeds do (other steps, BatchNorm over 256 items instead of 512). Measured on one thread
for training.seed 0 to 5, the same seed in both runs: final loss -0.61 % to +0.35 %, mean clip
score -20.0 % to +18.3 % (standard deviation 12.8 %), Spearman correlation of the clip scores
0.900 to 0.997, every loss history decreasing at every epoch; one process with two of those
seeds differs as much (mean clip score up to 26.3 %, final loss 0.68 %, Spearman down to 0.891).
With the single process on 2 threads, another arithmetic and so another sample: -0.64 % to
+0.38 %, -7.9 % to +10.5 %, 0.938 to 0.997. Stated with room for other seeds and CPUs, five
standard deviations of these 12 pairs or more: both histories finite and decreasing at every
epoch, all scores finite, final loss within 2 %, mean clip score within 50 %, Spearman
correlation at least 0.7.
"""
import warnings

import lightning as L
import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import spearmanr
from torch.utils.data import DataLoader, DistributedSampler, Sampler

from helpers import paths
from helpers.data import layout
from helpers.detectors import solution, torch_backend, torch_training
from helpers.experiments import pipeline
from helpers.detectors.detector import Detector, detector_path

PROCESSES = 2
PER_PROCESS = 256
DDP = {"trainer.strategy": "ddp_spawn", "trainer.devices": PROCESSES, "training.batch_size": PER_PROCESS}
EPOCHS = 15
EPOCHS_EXACT = 2
ROUNDING = 1e-5
LOSS_SPREAD = 0.02
SCORE_SPREAD = 0.50
MIN_RANK_CORRELATION = 0.7


class RankInterleaved(Sampler):
    """The training items in the order the DDP processes take them, step by step: process 0's
    first batch, process 1's first batch, process 0's second batch, ...; each process's order is
    the DistributedSampler Lightning gives it (same seed, same epoch, same padding)."""

    def __init__(self, dataset, batch_size: int, seed: int):
        self.samplers = [DistributedSampler(dataset, num_replicas=PROCESSES, rank=rank, shuffle=True, seed=seed)
                         for rank in range(PROCESSES)]
        self.batch_size = batch_size

    def set_epoch(self, epoch: int) -> None:
        """Lightning calls it at every epoch, as it does on the DDP processes' samplers."""
        for sampler in self.samplers:
            sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return sum(len(sampler) for sampler in self.samplers)

    def __iter__(self):
        orders = [list(sampler) for sampler in self.samplers]
        for start in range(0, len(orders[0]), self.batch_size):
            for order in orders:
                yield from order[start:start + self.batch_size]


class StepsOfProcesses(torch_training.NetworkTask):
    """Takes a batch of PROCESSES equal parts as the DDP processes take their batches together: the
    loss is the mean of the parts' losses, BatchNorm normalises each part over itself, and only
    the first part updates the running statistics (the other parts update copies, dropped; the
    originals are swapped back, not copied back, as autograd holds them for the backward pass).
    Each part's loss enters the epoch's history as each process's does."""

    def training_step(self, batch, index):
        x, target = batch
        first, *others = zip(x.chunk(PROCESSES), target.chunk(PROCESSES))
        losses = [super().training_step(first, index)]
        buffers = [(module, name, buffer) for module in self.net.modules()
                   for name, buffer in module.named_buffers(recurse=False)]
        for part in others:
            for module, name, buffer in buffers:
                setattr(module, name, buffer.clone())
            losses.append(super().training_step(part, index))
        for module, name, buffer in buffers:
            setattr(module, name, buffer)
        return sum(losses) / PROCESSES


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Every run of this module computes on one thread: OMP_NUM_THREADS=1 for the spawned DDP
    processes (Lightning then leaves their thread count alone), torch.set_num_threads(1) here."""
    threads = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OMP_NUM_THREADS", "1")
        torch.set_num_threads(1)
        yield
    torch.set_num_threads(threads)


def _load(epochs: int, overrides: dict):
    """The pytorch solution in fp32 whatever the CPU: these tests compare DDP's arithmetic with one process's."""
    return solution.load(paths.NOTEBOOKS / "pytorch", {"training.epochs": epochs, "trainer.precision": "32-true",
                                                       **overrides})


def _train_and_score(sol, tiny_data, result_root):
    """(summary row, history, clip scores) of pipeline.train_all and test_all on the fan clips."""
    summary = pipeline.train_all(sol, tiny_data, result_root, "fan", live=False, progress=False)
    scores, _ = pipeline.test_all(sol, tiny_data, result_root, "fan", progress=False)
    history = pd.read_csv(sol.result_dir(result_root) / "history_fan.csv")
    return summary.iloc[0], history, scores


def _single_process_taking_the_steps(sol, tiny_data, result_root):
    """(history, clip scores) of one process taking the DDP steps of `sol` (StepsOfProcesses on
    RankInterleaved batches) on the training items of pipeline.train_all, scored by test_all."""
    training = sol.config["training"]
    listed = layout.list_clips(tiny_data, "fan", "train")
    clips, log_mels = pipeline.load_clip_features(sol, listed, False, "fan train features")
    train, _ = pipeline.split_validation(log_mels, training["validation_split"])
    items = pipeline.make_items(sol, [log_mels[i] for i in train], True)
    dataset = torch_backend.ItemDataset(items, sol.objective)
    batches = DataLoader(dataset, batch_size=PROCESSES * PER_PROCESS, collate_fn=lambda batch: batch,
                         sampler=RankInterleaved(dataset, PER_PROCESS, training["seed"]))
    L.seed_everything(training["seed"], verbose=False)
    task = StepsOfProcesses(sol, training["learning_rate"])
    history = torch_training.EpochHistory(None, items, result_root / "logs")
    trainer = L.Trainer(max_epochs=training["epochs"], callbacks=[history], logger=False, accelerator="cpu",
                        devices=1, use_distributed_sampler=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, deterministic=True)
    with warnings.catch_warnings():  # validation, which the DDP run has, leaves the weights alone
        warnings.filterwarnings("ignore", message=".*no `val_dataloader`.*")
        trainer.fit(task, batches)
    trained = Detector.trained(sol, task.net.cpu().eval(), clips, pipeline.training_fingerprint(sol, clips), None)
    trained.fit_scoring(clips, log_mels)
    trained.save(detector_path(sol.result_dir(result_root), "fan"))
    scores, _ = pipeline.test_all(sol, tiny_data, result_root, "fan", progress=False)
    return history.history(), scores


@pytest.fixture(scope="module")
def exact_runs(tiny_data, tmp_path_factory):
    sol = _load(EPOCHS_EXACT, DDP)
    _, ddp_history, ddp_scores = _train_and_score(sol, tiny_data, tmp_path_factory.mktemp("ddp_exact"))
    history, scores = _single_process_taking_the_steps(sol, tiny_data, tmp_path_factory.mktemp("steps"))
    return (ddp_history, ddp_scores), (history, scores)


@pytest.fixture(scope="module")
def ddp_run(tiny_data, tmp_path_factory):
    return _train_and_score(_load(EPOCHS, DDP), tiny_data, tmp_path_factory.mktemp("ddp"))


@pytest.fixture(scope="module")
def single_run(tiny_data, tmp_path_factory):
    return _train_and_score(_load(EPOCHS, {}), tiny_data, tmp_path_factory.mktemp("single"))


def test_ddp_equals_a_single_process_taking_its_steps(exact_runs):
    (ddp_history, ddp_scores), (history, scores) = exact_runs
    assert list(ddp_history["epoch"]) == list(history["epoch"]) == list(range(1, EPOCHS_EXACT + 1))
    np.testing.assert_allclose(ddp_history["loss"], history["loss"], rtol=ROUNDING)
    assert list(ddp_scores["file_name"]) == list(scores["file_name"])
    np.testing.assert_allclose(ddp_scores["score"], scores["score"], rtol=ROUNDING)


def test_ddp_run_trains_for_every_epoch_and_reports_its_history(ddp_run):
    summary, history, scores = ddp_run
    assert summary["epochs"] == EPOCHS and list(history["epoch"]) == list(range(1, EPOCHS + 1))
    assert np.isfinite(summary["loss"]) and np.isfinite(summary["val_loss"])
    assert len(scores) == 16 and scores["score"].notna().all()


def test_ddp_trains_like_a_single_process_with_its_batch(ddp_run, single_run):
    (_, ddp_history, ddp_scores), (_, history, scores) = ddp_run, single_run
    for losses in (ddp_history["loss"], history["loss"]):
        assert np.isfinite(losses).all() and (np.diff(losses) < 0).all()
    assert np.isfinite(ddp_scores["score"]).all() and np.isfinite(scores["score"]).all()
    assert ddp_history["loss"].iloc[-1] == pytest.approx(history["loss"].iloc[-1], rel=LOSS_SPREAD)
    assert ddp_scores["score"].mean() == pytest.approx(scores["score"].mean(), rel=SCORE_SPREAD)
    assert list(ddp_scores["file_name"]) == list(scores["file_name"])
    assert spearmanr(ddp_scores["score"], scores["score"]).statistic >= MIN_RANK_CORRELATION
