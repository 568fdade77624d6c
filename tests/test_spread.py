"""Training and scoring on one thread, in the precision the solution trains in, lands inside the
spread that regression/expected.csv records for that figure (seeds on two cores: one thread sums
in another order, so this is the check that a thread count moves a figure no further than a seed).

The figure is the dense autoencoder's fan AUC and pAUC on the small preset, 10 epochs, seed 0:
the regression check's own data and recipe, on a type whose training has settled by then (valve's
has not: its recorded range spans every AUC, so a check there could not fail).
"""
import pandas as pd
import pytest

from helpers import metrics, paths, threads
from helpers.data import editions, synth
from helpers.detectors import solution
from helpers.execution import regression
from helpers.experiments import pipeline

SOLUTION = "pytorch"
MACHINE_TYPE = "fan"


@pytest.fixture(scope="module")
def type_data(tmp_path_factory):
    """The regression check's dataset (small preset, seed 0), one type only: the same clips, byte for byte."""
    root = tmp_path_factory.mktemp("regression") / "dev_data"
    synth.generate(root, size="small", seed=0, types=[MACHINE_TYPE], progress=False)
    return root


def test_one_thread_stays_inside_the_recorded_spread(type_data, tmp_path, cores=1):
    folder = paths.NOTEBOOKS / SOLUTION
    sol = solution.load(folder, {"training.epochs": regression.EPOCHS, "training.seed": regression.SEEDS[0]})
    with threads.sharing(cores):
        assert threads.torch_threads() == cores
        pipeline.train_all(sol, type_data, tmp_path, MACHINE_TYPE, retrain=True, live=False, progress=False)
        _, tables = pipeline.test_all(sol, type_data, tmp_path, MACHINE_TYPE, progress=False)
    figures = metrics.means(tables[MACHINE_TYPE], editions.RULES_2020.figures)["arithmetic mean"]  # what 01-test records
    measured = pd.DataFrame([{"solution": SOLUTION, "machine_type": MACHINE_TYPE, "seed": regression.SEEDS[0],
                              "cores": cores, "AUC": figures["AUC"], "pAUC": figures["pAUC"]}])
    expected = regression.read_expected()
    recorded = expected[(expected["solution"] == SOLUTION) & (expected["machine_type"] == MACHINE_TYPE)]
    assert set(recorded["precision"]) == {regression.precision_of(folder)}  # the precision it trains in
    assert regression.compare(measured, expected[expected["solution"] == SOLUTION]) == []
