"""The regression check: the committed spreads over seeds, the allowed ranges and the messages."""
import numpy as np
import pandas as pd
import pytest

from helpers import machine, paths
from helpers.execution import regression
from helpers.errors import ToolkitError
from helpers.detectors.solution import solution_folders

TYPES = {"ToyCar", "ToyConveyor", "fan", "pump", "slider", "valve", regression.ALL_TYPES}


def measured_table(values: dict, cores: int = 2) -> pd.DataFrame:
    """{(solution, type, seed): (AUC, pAUC)} on `cores` cores as regression.measure returns it."""
    return pd.DataFrame([{"solution": s, "machine_type": t, "seed": seed, "cores": cores, "AUC": a, "pAUC": p}
                         for (s, t, seed), (a, p) in values.items()], columns=regression.MEASURED_COLUMNS)


def test_committed_table_holds_a_spread_over_seeds_for_every_solution_and_type():
    table = regression.read_expected()
    assert set(table["solution"]) == {f.name for f in solution_folders()}
    for solution, rows in table.groupby("solution"):
        assert set(rows["machine_type"]) == TYPES, solution
        assert all(sorted(metrics) == ["AUC", "pAUC"] for _, metrics in rows.groupby("machine_type")["metric"])
        # how and where: the precision the solution's config trains in, and a CPU
        assert set(rows["precision"]) == {regression.precision_of(paths.NOTEBOOKS / solution)}, solution
        assert rows["cpu"].str.contains("cores").all()
    for row in table.itertuples():
        values = np.array(row.values.split(), dtype=float)
        assert len(values) == len(row.seeds.split()) == len(row.cores.split()) >= 3
        assert len(set(zip(row.seeds.split(), row.cores.split()))) == len(values)  # each run once
        assert ((0 <= values) & (values <= 1)).all()
        assert row.mean == pytest.approx(values.mean(), abs=1e-4)
        assert row.sd == pytest.approx(values.std(ddof=1), abs=1e-4)


def test_every_recorded_seed_lies_in_its_own_range():
    """By construction (K * sqrt(1 + 1/n) sd is wider than any sample's distance from its mean)."""
    table = regression.read_expected()
    reruns = []
    for row in table.itertuples():
        for seed, cores, value in zip(row.seeds.split(), row.cores.split(), row.values.split()):
            reruns.append({"solution": row.solution, "machine_type": row.machine_type, "seed": int(seed),
                           "cores": int(cores), "metric": row.metric, "value": float(value)})
    measured = (pd.DataFrame(reruns).pivot_table(index=["solution", "machine_type", "seed", "cores"],
                                                 columns="metric", values="value").reset_index())
    assert 2 * len(measured) == len(reruns) and len(measured) >= 3 * 7 * 4
    assert regression.compare(measured, table) == []


def test_spread_and_ranges_follow_the_rule():
    measured = measured_table({("mine", "fan", 0): (0.70, 0.60), ("mine", "fan", 1): (0.74, 0.60),
                               ("mine", "fan", 2): (0.72, 0.60),
                               ("mine", "valve", 0): (0.80, 0.70), ("mine", "valve", 1): (0.90, 0.74),
                               ("mine", "valve", 2): (0.85, 0.72)})
    expected = regression.spread(measured, {"mine": "32-true"}, cpu="a CPU, 2 cores")
    fan_auc = expected.query("machine_type == 'fan' and metric == 'AUC'").iloc[0]
    assert fan_auc["seeds"] == "0 1 2" and fan_auc["values"] == "0.7000 0.7400 0.7200"
    assert (fan_auc["cores"], fan_auc["precision"], fan_auc["cpu"]) == ("2 2 2", "32-true", "a CPU, 2 cores")
    assert fan_auc["mean"] == pytest.approx(0.72) and fan_auc["sd"] == pytest.approx(0.02)
    ranges = regression.allowed_ranges(expected).set_index(["machine_type", "metric"])
    pooled = np.median([0.02, 0.0, 0.05, 0.02])
    half = regression.K * np.sqrt(1 + 1 / 3)
    assert ranges.loc[("fan", "AUC"), "high"] == pytest.approx(0.72 + half * pooled)
    assert ranges.loc[("valve", "AUC"), "low"] == pytest.approx(0.85 - half * 0.05)
    # seeds that agreed exactly still get the pooled width, not a zero-width range
    assert ranges.loc[("fan", "pAUC"), "high"] - ranges.loc[("fan", "pAUC"), "low"] == pytest.approx(2 * half * pooled)


def test_a_figure_that_lands_anywhere_keeps_its_wide_range_to_itself():
    """A training unsettled at 10 epochs gives a figure anywhere in a wide band (valve here); the
    other types' ranges stay as narrow as their own spread and their neighbours' say."""
    steady = {("mine", t, s): (0.70 + 0.01 * s, 0.60 + 0.01 * s) for t in ("ToyCar", "fan", "pump") for s in range(3)}
    anywhere = {("mine", "valve", s): (auc, 0.5) for s, auc in enumerate((0.72, 0.44, 0.19))}
    ranges = regression.allowed_ranges(regression.spread(measured_table(steady | anywhere)))
    ranges = ranges.set_index(["machine_type", "metric"])
    half = regression.K * np.sqrt(1 + 1 / 3) * 0.01
    assert ranges.loc[("fan", "AUC"), "high"] == pytest.approx(0.71 + half)
    assert ranges.loc[("valve", "AUC"), "low"] < 0.19 and ranges.loc[("valve", "AUC"), "high"] > 0.72


def test_compare_names_solution_type_figure_range_and_move():
    expected = regression.spread(measured_table({("mine", "fan", s): (0.70 + 0.01 * s, 0.60 + 0.01 * s)
                                                 for s in range(3)}))
    inside = measured_table({("mine", "fan", 5): (0.73, 0.59)})
    assert regression.compare(inside, expected) == []
    outside = measured_table({("mine", "fan", 5): (0.80, 0.61)})
    problems = regression.compare(outside, expected)
    assert len(problems) == 1
    assert problems[0].startswith("mine fan AUC (seed 5, 2 core(s)): 0.8000, expected 0.6638 to 0.7562")
    assert "seeds 0 1 2 on cores 2 2 2: 0.7000 0.7100 0.7200" in problems[0] and "moved +0.0900" in problems[0]
    assert problems[0].endswith(f"on {machine.cpu_name()})")
    unknown = measured_table({("theirs", "fan", 0): (0.5, 0.5)})
    assert all("no expected spread" in p for p in regression.compare(unknown, expected))


def test_a_spread_needs_two_seeds_and_the_table_its_columns(tmp_path):
    one_seed = regression.spread(measured_table({("mine", "fan", 0): (0.7, 0.6)}))
    with pytest.raises(ToolkitError, match="at least two seeds"):
        regression.allowed_ranges(one_seed)
    old = tmp_path / "expected.csv"
    old.write_text("solution,machine_type,AUC,pAUC\npytorch,fan,0.7,0.6\n")
    with pytest.raises(ToolkitError, match=r"missing column\(s\).*regress --update"):
        regression.read_expected(old)


def test_update_replaces_only_the_measured_solutions(tmp_path):
    path, precisions = tmp_path / "expected.csv", {"a": "32-true", "b": "float32"}
    regression.write_expected(measured_table({("a", "fan", s): (0.7, 0.6 + s / 100) for s in range(3)}), precisions, path)
    regression.write_expected(measured_table({("b", "fan", s): (0.8, 0.5 + s / 100) for s in range(3)}), precisions, path)
    one_core = measured_table({("a", "fan", s): (0.9, 0.9 + s / 100) for s in range(2)}, cores=1)
    regression.write_expected(pd.concat([one_core, measured_table({("a", "fan", 0): (0.9, 0.9)})]), precisions, path)
    table = regression.read_expected(path)
    assert sorted(set(table["solution"])) == ["a", "b"]
    row = table.query("solution == 'a' and metric == 'AUC'").iloc[0]
    assert (row["mean"], row["seeds"], row["cores"], row["precision"]) == (pytest.approx(0.9), "0 1 0", "1 1 2", "32-true")
    assert table.query("solution == 'b'")["precision"].eq("float32").all()


@pytest.mark.xfail(strict=True, reason="on the synthetic data of one product's units the dense AEs' 10-epoch figures spread 0.02-0.03 over seeds per type (pooled), so their ranges (4.6 x that) no longer catch a 0.1 shift of `original` and `pytorch`: the recipe needs more seeds or epochs")
def test_the_committed_table_catches_a_small_shift_of_every_type():
    """A bug that lowers every type's AUC by 0.1 leaves a range of every solution: its all-types
    row's (half-width under 0.1 where no type lands anywhere) or, where one type does (pytorch's
    valve, the VAE's pump and valve at 10 epochs), the rows of its steady types."""
    expected = regression.read_expected()
    means = expected[expected["metric"] == "AUC"].set_index(["solution", "machine_type"])["mean"]
    shifted = pd.DataFrame([{"solution": sol, "machine_type": t, "seed": 0, "cores": 2, "AUC": mean - 0.1,
                             "pAUC": expected.query("solution == @sol and machine_type == @t and metric == 'pAUC'")
                             ["mean"].item()} for (sol, t), mean in means.items()])
    problems = regression.compare(shifted, expected)
    assert {p.split()[0] for p in problems} == {f.name for f in solution_folders()}
    assert all(" AUC " in p for p in problems)  # the pAUC figures, left at their means, pass


def test_measure_reads_the_figures_the_test_notebooks_recorded(tmp_path, monkeypatch):
    """measure() runs the training and test notebooks per seed and takes the per-type means they
    recorded (not printed text), adding the mean over types."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    from helpers import recording, threads
    from helpers.data import synth
    from helpers.execution import runner

    calls = []

    def run_solution(folder, data, result_root, epochs, retrain, timeout, idle_timeout, extra, run_name, roles):
        calls.append((folder.name, extra["SEED"], epochs, retrain, run_name, roles, threads.cores()))
        seed = extra["SEED"]
        rows = [{"machine_type": t, "section": i, "AUC": auc + seed / 100, "pAUC": auc - 0.1}
                for t, auc in (("fan", 0.7), ("valve", 0.9)) for i in ("00", "02", "arithmetic mean", "harmonic mean")]
        rows = [r if r["section"] == "arithmetic mean" else {**r, "AUC": 0.0} for r in rows]  # only the means count
        output = new_output("display_data", data={recording.METRICS_MIME: {"run_name": run_name, "rows": rows},
                                                  "text/plain": "metrics recorded for scripts"})
        executed = result_root / run_name / "notebooks" / "01-test.ipynb"
        executed.parent.mkdir(parents=True)
        nbformat.write(new_notebook(cells=[new_code_cell("record", outputs=[output])]), executed)
        return result_root / run_name

    monkeypatch.setattr(runner, "run_solution", run_solution)
    monkeypatch.setattr(synth, "generate", lambda data, **settings: data.mkdir(exist_ok=True))
    measured = regression.measure([tmp_path / "mine"], seeds=[0, 3], work=tmp_path, epochs=7, cores=[1])
    assert calls == [("mine", seed, 7, True, f"mine-seed{seed}-cores1", regression.CHECKED_ROLES, 1) for seed in (0, 3)]
    assert set(measured["cores"]) == {1}
    table = measured.set_index(["machine_type", "seed"])
    assert table.loc[("fan", 0), "AUC"] == pytest.approx(0.70) and table.loc[("valve", 3), "AUC"] == pytest.approx(0.93)
    assert table.loc[(regression.ALL_TYPES, 3), "AUC"] == pytest.approx((0.73 + 0.93) / 2)
    assert table.loc[(regression.ALL_TYPES, 0), "pAUC"] == pytest.approx((0.6 + 0.8) / 2)
    assert len(measured) == 2 * 3 and set(measured["solution"]) == {"mine"}
