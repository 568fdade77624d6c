"""The interpolation DNN (idnn) keeps the scoring contract."""
import shutil

import numpy as np
import pytest
import torch

from helpers import paths, pipeline, solution
from helpers.audio import load_audio
from helpers.features import log_mel


def test_idnn_scores_are_the_middle_frames_mean_squared_error(tiny_data, tmp_path):
    sol = solution.load(paths.NOTEBOOKS / "idnn", {"training.epochs": 2})
    assert sol.input_shape() == (128 * 4,) and sol.target_shape() == (128,)
    pipeline.train_machine_type(sol, tiny_data, "fan", sol.result_dir(tmp_path), live=False, progress=False)
    scores = pipeline.score_machine_type(sol, tiny_data, "fan", tmp_path, progress=False)
    net = pipeline.load_model(sol, "fan", tmp_path).net.eval()
    for row in scores.iloc[[0, 5, 11]].itertuples():
        mel = log_mel(load_audio(row.path), sol.features)  # [n_mels, frames]
        middles = np.arange(2, mel.shape[1] - 2)
        context = np.concatenate([mel[:, middles + offset].T for offset in (-2, -1, 1, 2)], axis=1)
        with torch.no_grad():
            predicted = net(torch.from_numpy(context)).numpy()
        expected = np.mean(np.mean((predicted.astype(np.float64) - mel[:, middles].T) ** 2, axis=1))
        assert row.score == pytest.approx(expected, rel=1e-5)


def test_a_context_model_must_take_the_target_shape(tmp_path):
    from helpers.errors import ConfigError

    folder = tmp_path / "my_idnn"
    shutil.copytree(paths.NOTEBOOKS / "idnn", folder)
    source = (folder / "model.py").read_text().replace("def build_model(input_shape, target_shape,",
                                                       "def build_model(input_shape,")
    (folder / "model.py").write_text(source)
    with pytest.raises(ConfigError, match="inputs.kind 'context'.*`target_shape`"):
        solution.load(folder)
