import pandas as pd

from helpers import regression


def test_committed_table_covers_every_solution_and_type():
    table = regression.read_expected()
    assert set(table["solution"]) == {"original", "pytorch", "vae", "cnn_ae"}
    assert table.groupby("solution").size().eq(6).all()
    assert table[["AUC", "pAUC"]].apply(lambda c: c.between(0, 1)).all().all()


def test_compare_names_solution_type_and_figures(tmp_path):
    expected = pd.DataFrame({"solution": ["pytorch"] * 2, "machine_type": ["fan", "valve"],
                             "AUC": [0.70, 0.80], "pAUC": [0.60, 0.70]})
    measured = expected.assign(AUC=[0.72, 0.70])
    problems = regression.compare(measured, expected, tolerance=0.03)
    assert problems == ["pytorch valve: AUC 0.7000, expected 0.8000 ± 0.03 (moved -0.1000)"]
    new = pd.DataFrame({"solution": ["mine"], "machine_type": ["fan"], "AUC": [0.5], "pAUC": [0.5]})
    assert "no expected AUC" in regression.compare(new, expected)[0]
    path = regression.write_expected(new, tmp_path / "expected.csv")
    assert regression.read_expected(path)["solution"].tolist() == ["mine"]
