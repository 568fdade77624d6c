import shutil

import pytest

from helpers import paths
from helpers.detectors import config, solution
from helpers.errors import ConfigError


def write(tmp_path, text):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_defaults_are_the_baseline():
    settings = config.defaults()
    assert settings["training"] == {"epochs": 100, "batch_size": 512, "learning_rate": 0.001,
                                    "validation_split": 0.1, "shuffle": True, "seed": 0, "objective": "reconstruction",
                                    "pseudo_classes": 4, "scope": "machine_type", "supplemental_machine": False,
                                    "noise_copies": 0, "noise_snr_db": [-5.0, 5.0]}  # the supplemental clips unused
    assert settings["scoring"]["backend"] == "mse" and settings["inputs"]["kind"] == "vectors"
    assert {k: settings["scoring"][k] for k in ("domains", "metric", "covariance", "oversample_target")} == {
        "domains": "pooled", "metric": "euclidean", "covariance": "ledoit_wolf", "oversample_target": 0.0}
    assert config.feature_settings(settings).dims == 640


def test_misspelt_key_names_file_key_and_suggestion(tmp_path):
    path = write(tmp_path, "training:\n  epoch: 5\n")
    with pytest.raises(ConfigError, match=r"config.yaml \[training\]: unknown setting 'epoch' \(did you mean 'epochs'\?\)"):
        config.load(path)
    with pytest.raises(ConfigError, match="unknown setting 'featurs'"):
        config.load(write(tmp_path, "featurs: {}\n"))


@pytest.mark.parametrize("text,setting", [
    ("training:\n  epochs: ten\n", "training.epochs"),
    ("training:\n  shuffle: 1\n", "training.shuffle"),
    ("training:\n  learning_rate: -0.1\n", "training.learning_rate"),
    ("training:\n  validation_split: 1.5\n", "training.validation_split"),
    ("framework: jax\n", "framework"),
    ("inputs:\n  kind: images\n", "inputs.kind"),
    ("features:\n  n_mels: 0\n", "n_mels"),
])
def test_wrong_types_and_values_name_the_setting(tmp_path, text, setting):
    with pytest.raises(ConfigError, match=setting.replace(".", r"\.")):
        config.load(write(tmp_path, text))


def test_overrides_apply_and_none_keeps(tmp_path):
    loaded = config.load(write(tmp_path, "training:\n  epochs: 7\n"),
                         {"training.epochs": None, "training.batch_size": 64, "model.kl_weight": 0.5})
    assert loaded["training"]["epochs"] == 7 and loaded["training"]["batch_size"] == 64
    assert loaded["model"]["kl_weight"] == 0.5
    with pytest.raises(ConfigError, match="epochz"):
        config.load(write(tmp_path, ""), {"training.epochz": 3})


def test_bad_yaml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML"):
        config.load(write(tmp_path, "training: [unclosed\n"))
    with pytest.raises(ConfigError, match="not found"):
        config.load(tmp_path / "nope.yaml")


@pytest.mark.parametrize("folder", solution.solution_folders(), ids=lambda f: f.name)
def test_every_solution_config_loads_and_builds(folder):
    """The network that config.yaml describes is built and maps a batch of inputs to the shape it scores."""
    import numpy as np

    from helpers.detectors import detector
    from helpers.experiments import pipeline

    loaded = solution.load(folder)
    assert loaded.name == folder.name and len(loaded.fingerprint()) == 12
    classes = 4
    net = loaded.build_model(classes)  # the classes go to build_model only where the objective learns classes
    batch = np.random.default_rng(0).normal(-40, 10, (3, *loaded.input_shape())).astype(np.float32)
    out = detector.engine(loaded).predict(net, batch)
    if "classes" in loaded.objective.required_arguments(loaded.input_kind):
        assert out.shape == (3, classes)
    elif not loaded.objective.trains:  # a frozen network's solution: the embeddings pass through as they are
        assert np.array_equal(out, batch) and loaded.input_shape() == (512,)
    else:
        mels = [np.zeros((loaded.features.n_mels, 200), np.float32)]
        items = pipeline.make_items(loaded, mels, training=False)
        assert out.shape == (3, *items.targets(np.arange(1)).shape[1:]) and items.batch(np.arange(1)).shape[1:] == batch.shape[1:]
    assert np.isfinite(out).all()
    size = net.count_params() if loaded.framework == "keras" else sum(p.numel() for p in net.parameters())
    assert size > 0 or not loaded.objective.trains


def test_unknown_model_setting_names_the_build_arguments(tmp_path):
    folder = tmp_path / "mine"
    shutil.copytree(paths.NOTEBOOKS / "pytorch", folder)
    text = (folder / "config.yaml").read_text().replace("bottleneck: 8", "botleneck: 8")
    (folder / "config.yaml").write_text(text)
    with pytest.raises(ConfigError, match="botleneck.*did you mean 'bottleneck'"):
        solution.load(folder)


def test_copied_solution_is_a_new_solution(tmp_path):
    folder = tmp_path / "notebooks" / "my_idea"
    shutil.copytree(paths.NOTEBOOKS / "pytorch", folder)
    assert [f.name for f in solution.solution_folders(tmp_path / "notebooks")] == ["my_idea"]
    copied = solution.load(folder)
    assert copied.name == "my_idea" and copied.result_dir(tmp_path).name == "my_idea"


@pytest.mark.parametrize("section, message", [
    ("notebook:\n  titel: x\n", r"config.yaml \[notebook\]: unknown setting 'titel' \(did you mean 'title'\?\)"),
    ("notebook:\n  about: [a, b]\n", r"config.yaml \[notebook\]: setting 'about' must be text"),
    ("notebook:\n  parameters:\n    kl_weight: {setting: model.kl_weight, comment: c}\n",
     r"parameter name 'kl_weight' must be UPPER_CASE .* e.g. 'KL_WEIGHT'"),
    ("notebook:\n  parameters:\n    KL: {settting: model.kl_weight, comment: c}\n",
     r"\[notebook.parameters.KL\]: unknown setting 'settting' \(did you mean 'setting'\?\)"),
    ("notebook:\n  parameters:\n    KL: {setting: model.kl_weight}\n",
     r"\[notebook.parameters.KL\]: missing setting\(s\) \['comment'\]"),
    ("notebook:\n  parameters:\n    KL: model.kl_weight\n", r"\[notebook.parameters.KL\]: expected a mapping with setting, comment"),
    ("notebook:\n  parameters:\n    LR: {setting: trainig.learning_rate, comment: c}\n",
     r"\[notebook.parameters.LR\]: unknown setting 'trainig.learning_rate' \(did you mean 'training.learning_rate'\?\)"),
])
def test_the_notebook_section_is_checked(tmp_path, section, message):
    with pytest.raises(ConfigError, match=message):
        config.load(write(tmp_path, section))


def test_a_notebook_parameter_overrides_a_setting_or_a_build_model_argument(tmp_path):
    loaded = config.load(write(tmp_path, "notebook:\n  parameters:\n"
                                         "    LR: {setting: training.learning_rate, comment: 'learning rate (float > 0)'}\n"))
    assert loaded["notebook"] == {"title": "", "about": "", "parameters": {
        "LR": {"setting": "training.learning_rate", "comment": "learning rate (float > 0)"}}}
    folder = tmp_path / "mine"
    shutil.copytree(paths.NOTEBOOKS / "pytorch", folder)
    with (folder / "config.yaml").open("a") as out:
        out.write("  parameters:\n    WIDTH: {setting: model.botleneck, comment: 'code width (int ≥ 1)'}\n")
    with pytest.raises(ConfigError, match=r"\[notebook.parameters.WIDTH\] model: unknown setting 'botleneck' "
                                          r"\(did you mean 'bottleneck'\?\)"):
        solution.load(folder)


def test_the_notebook_section_does_not_change_the_fingerprint(tmp_path):
    """Its text is what the notebooks show: rewording it does not train the models again."""
    folder = tmp_path / "mine"
    shutil.copytree(paths.NOTEBOOKS / "pytorch", folder)
    before = solution.load(folder).fingerprint()
    text = (folder / "config.yaml").read_text()
    (folder / "config.yaml").write_text(text[:text.index("\nnotebook:")] + "\nnotebook:\n  about: other words\n")
    assert solution.load(folder).fingerprint() == before
