"""The command line, `python -m helpers <command>`: exit codes, error lines and what it prints.

Commands that only wire other modules together (demo, regress) are run in this process with the
long work replaced by recorders; synth, table and run run for real, as a user types them.
"""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from helpers import paths
from helpers.data import editions, layout, synth
from helpers.execution import cli, notebooks, regression, runner
from helpers.experiments import results
from helpers.detectors.solution import solution_folders
from tests.conftest import write_wav


def helpers_command(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "helpers", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=paths.PROJECT_ROOT)


def test_synth_then_table_print_what_was_written(tmp_path):
    data = tmp_path / "data"
    made = helpers_command("synth", "--out", str(data), "--size", "tiny", "--types", "fan,valve", "--workers", "1")
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith(f"wrote synthetic data to {data}: ")
    for machine_type in ("fan", "valve"):
        train = layout.list_clips(data, machine_type, "train")
        test = layout.list_clips(data, machine_type, "test")
        assert len(train) == 4 * 3 and sorted(c.label for c in test) == [0] * 8 + [1] * 8
    shown = helpers_command("table", "--data", str(data))
    assert shown.returncode == 0, shown.stderr
    rows = [line.split() for line in shown.stdout.splitlines() if re.match(r"^(fan|valve|\s+)\s*\d\d\s", line)]
    # machine_type (only on its first row), ID, then test/anomaly, test/normal, train/normal counts
    assert [row[-4:] for row in rows] == [[i, "2", "2", "3"] for i in editions.edition(2020).dev_sections["fan"]] * 2
    assert shown.stdout.strip().endswith("No files were skipped or converted.")


@pytest.mark.parametrize("argv, message", [
    (["synth", "--size", "huge", "--out", "{tmp}/x"], "huge"),
    (["table", "--data", "{tmp}/nowhere"], "data folder {tmp}/nowhere does not exist"),
    (["run", "--solution", "pytorch,nope"], "unknown solution(s) ['nope']"),
    (["regress", "--solution", "nope"], "unknown solution(s) ['nope']"),
    (["regress", "--update", "--seeds", "0", "--solution", "pytorch"], "give at least two (--seeds 0,1,2)"),
    (["download", "--types", "fans", "--dest", "{tmp}/d"], "unknown machine type(s) ['fans']"),
])
def test_bad_arguments_exit_2_with_one_error_line(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(regression, "measure", lambda *a, **k: pytest.fail("measured before checking the arguments"))
    code = cli.main([a.format(tmp=tmp_path) for a in argv])
    captured = capsys.readouterr()
    assert code == 2
    (line,) = captured.err.strip().splitlines()
    assert line.startswith("error: ") and message.format(tmp=tmp_path) in line


def test_an_unknown_command_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["trian"])
    assert stop.value.code == 2 and "invalid choice: 'trian'" in capsys.readouterr().err


@pytest.fixture
def recorded_runs(monkeypatch):
    """Replace notebook execution by a recorder; each 'run' writes a result.csv as a real one would."""
    calls = {"notebooks": [], "solutions": [], "comparisons": [], "synth": []}

    def run_solution(folder, data_dir, result_root, machine_types=None, epochs=None, retrain=False, timeout=None,
                     **options):
        calls["solutions"].append({"name": folder.name, "data": str(data_dir), "epochs": epochs, "retrain": retrain,
                                   "types": machine_types,
                                   "run": options.get("run_name"), "extra": options.get("extra")})
        run = options.get("run_name") or folder.name
        seed = (options.get("extra") or {}).get("SEED", 0)  # seed s: AUC 0.6 + 0.1 s on ID 00
        table = pd.DataFrame({"section": ["00", "02"], "AUC": [0.6 + 0.1 * seed, 0.8], "pAUC": [0.55, 0.65], "precision": [1.0, 0.5],
                              "recall": [0.5, 1.0], "F1 score": [2 / 3, 2 / 3]})
        # valve: a test set without anomalous clips, whose AUC and pAUC are undefined
        undefined = table.iloc[:1].assign(section="00", AUC=float("nan"), pAUC=float("nan"))
        tables = {"fan": table, "valve": undefined}
        results.write_result_csv(Path(result_root) / run / "result.csv", tables, editions.RULES_2020)
        results.write_metrics_json(Path(result_root) / run / "metrics.json", tables, editions.edition(2020))
        return Path(result_root) / run

    monkeypatch.setattr(runner, "run_solution", run_solution)
    def execute(source, output, parameters, *args, **options):
        calls["notebooks"].append((source.name, parameters))
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nbformat.v4.new_notebook(), output)  # as the real one leaves it, with nothing recorded
        return Path(output)

    monkeypatch.setattr(runner, "execute_notebook", execute)
    monkeypatch.setattr(runner, "run_comparison", lambda root, *a, **k: calls["comparisons"].append(root))

    def generate(out, size, seed, **options):
        calls["synth"].append((str(out), size, seed, options.get("types")))
        (out / "fan" / "train").mkdir(parents=True)

    monkeypatch.setattr(synth, "generate", generate)
    return calls


def test_demo_makes_data_only_when_the_folder_is_empty_and_runs_every_solution(recorded_runs, tmp_path, capsys):
    data, result = tmp_path / "data", tmp_path / "result"
    data.mkdir()
    assert cli.main(["demo", "--data", str(data), "--size", "tiny", "--result-dir", str(result)]) == 0
    printed = capsys.readouterr().out
    assert recorded_runs["synth"] == [(str(data), "tiny", 0, ["ToyConveyor", "valve"])]
    assert f"making the tiny synthetic dataset of ToyConveyor and valve (`make data` writes every type) in {data}" in printed
    assert f"demo: every solution on ToyConveyor and valve of {data}" in printed
    assert f"{cli.DEMO_EPOCHS} training epochs per model" in printed
    assert f"{cli.DEMO_JOBS} notebook(s) at a time" in printed
    assert recorded_runs["notebooks"] == [("00-data-eda.ipynb", {"DATA_DIR": str(data.resolve())})]
    names = [f.name for f in solution_folders()]
    assert sorted(c["name"] for c in recorded_runs["solutions"]) == sorted(names)  # side by side: any order
    assert all(c["epochs"] == cli.DEMO_EPOCHS and c["data"] == str(data) and not c["retrain"]
               and c["types"] == ["ToyConveyor", "valve"] for c in recorded_runs["solutions"])
    assert recorded_runs["comparisons"] == [str(result)]
    # the official score of every run, one column per run: the mean of the IDs' AUC and pAUC
    table = printed.split("DCASE 2020 Task 2: official score per machine type")[1]
    fan = next(line for line in table.splitlines() if line.startswith("fan"))
    assert fan.split()[1:] == ["0.6500"] * len(names)
    valve = next(line for line in table.splitlines() if line.startswith("valve"))
    assert valve.split()[1:] == ["undefined"] * len(names)
    assert "undefined: valve: no AUC where a test set holds no normal or no anomalous clip (per id; " in printed

    recorded_runs["solutions"].clear()
    assert cli.main(["demo", "--data", str(data), "--size", "tiny", "--result-dir", str(result), "--jobs", "1",
                     "--types", "all"]) == 0
    assert all(c["types"] is None for c in recorded_runs["solutions"])
    assert len(recorded_runs["synth"]) == 1 and "making the" not in capsys.readouterr().out
    assert [c["name"] for c in recorded_runs["solutions"]] == names  # one at a time: in order


def test_run_with_seeds_trains_once_per_seed_and_reports_mean_and_sd(recorded_runs, tmp_path, capsys):
    result = tmp_path / "result"
    assert cli.main(["run", "--solution", "pytorch", "--seeds", "0,1,2", "--result-dir", str(result)]) == 0
    assert [(c["run"], c["extra"]) for c in recorded_runs["solutions"]] == [
        (f"pytorch-seed{s}", {"SEED": s}) for s in (0, 1, 2)]
    printed = capsys.readouterr().out
    assert "mean ± standard deviation over seeds 0,1,2" in printed
    # per seed the fan's official score is the mean of AUC 0.6 + 0.1 s, 0.8, pAUC 0.55, 0.65: 0.65 + 0.025 s
    fan = next(line for line in printed.splitlines() if line.startswith("fan"))
    assert fan.split()[1:] == ["0.6750", "±", "0.0250", "(3", "seeds)"]
    written = pd.read_csv(result / "pytorch-seeds.csv", dtype={"seeds": str})
    auc = written[(written["section"] == "00") & (written["metric"] == "auc")].iloc[0]
    assert (auc["value"], auc["sd"], auc["n"], auc["seeds"]) == (pytest.approx(0.7), pytest.approx(0.1), 3, "0 1 2")
    for bad in ("0,0", "a", "-1"):
        with pytest.raises(SystemExit):
            cli.main(["run", "--seeds", bad])
        assert "expected distinct training seeds" in capsys.readouterr().err


def committed_means(shift: dict | None = None) -> pd.DataFrame:
    """A measurement at the committed table's means, with {(solution, type): AUC shift} applied."""
    expected = regression.read_expected()
    wide = expected.pivot_table(index=["solution", "machine_type"], columns="metric", values="mean").reset_index()
    for (solution, machine_type), move in (shift or {}).items():
        wide.loc[(wide["solution"] == solution) & (wide["machine_type"] == machine_type), "AUC"] += move
    return wide.assign(seed=0, cores=2)[regression.MEASURED_COLUMNS]


def test_regress_passes_at_the_recorded_means_and_names_each_figure_outside(monkeypatch, capsys):
    measured = committed_means()
    monkeypatch.setattr(regression, "measure", lambda folders, **k: measured[measured["solution"].isin(
        [f.name for f in folders])])
    assert cli.main(["regress"]) == 0
    assert f"all {2 * len(measured)} figures within the spread recorded" in capsys.readouterr().out

    measured = committed_means({("pytorch", "fan"): -0.2, ("vae", "fan"): +0.5})
    assert cli.main(["regress"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0] == f"error: 2 figure(s) outside the spread recorded in {regression.EXPECTED}:"
    assert lines[1].strip().startswith("pytorch fan AUC (seed 0, 2 core(s)): ")
    assert "moved -0.2000" in lines[1]
    assert lines[2].strip().startswith("vae fan AUC (seed 0, 2 core(s)): ")


def test_run_trains_tests_and_prints_the_averages_and_what_it_skipped(tiny_data, tmp_path):
    """The headline command on tiny fan with broken and converted clips: three notebooks, what the
    training skipped and converted named under it, the comparison, the table of averages."""
    data = tmp_path / "data"
    shutil.copytree(tiny_data / "fan", data / "fan")
    train = data / "fan" / "train"
    (train / "normal_id_00_00000090.wav").write_bytes(b"not audio")
    (train / "normal_id_00_00000091.wav").write_bytes(b"")
    write_wav(train / "normal_id_00_00000092.wav", seconds=0.05)
    write_wav(train / "normal_id_02_00000094.wav", channels=2)
    write_wav(train / "normal_id_02_00000095.wav", sample_rate=44_100)
    done = helpers_command("run", "--solution", "pytorch", "--types", "fan", "--epochs", "1",
                           "--dev-data", str(data), "--result-dir", str(tmp_path), timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    for name in notebooks.FILE_NAMES.values():
        assert re.search(rf"running pytorch/{name} as pytorch \.\.\. \d+\.\d s", done.stdout), name
    training = done.stdout.split("running pytorch/00-train-with-visual.ipynb")[1].split("running pytorch/01")[0]
    assert "  3 file(s) skipped:" in training and "  2 file(s) converted:" in training
    for name, reason in (("90", "cannot be read as audio"), ("91", "cannot be read as audio"), ("92", "too short"),
                         ("94", "2 channels, the first used"), ("95", "sample rate 44100 Hz, resampled")):
        assert re.search(rf"    {train}/normal_id_0\d_000000{name}\.wav: {reason}", training), name
    listed = pd.read_csv(tmp_path / "pytorch" / "notebooks" / "00-train-with-visual.files.csv")
    assert listed["kind"].tolist() == ["skipped"] * 3 + ["converted"] * 2
    official = json.loads((tmp_path / "pytorch" / "metrics.json").read_text())["machine_types"]["fan"]["official_score"]
    table = done.stdout.split("DCASE 2020 Task 2: official score per machine type")[1]
    fan = next(line for line in table.splitlines() if line.startswith("fan")).split()
    assert float(fan[1]) == pytest.approx(official, abs=6e-5)
    assert (tmp_path / "compare-solutions.ipynb").is_file()
    assert done.stdout.strip().endswith(f"executed notebooks and results under {tmp_path}/")
