from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from helpers import fileio
from helpers.data import editions, groundtruth, layout, realism, synth
from helpers.data.audio import load_audio
from helpers.errors import ConfigError
from helpers.data.layout import SAMPLE_RATE, YEAR_FILE, attribute_pairs, list_clips, parse_clip

DCASE2020 = editions.edition(2020)
MACHINE_TYPES, DEV_IDS, EVAL_IDS = DCASE2020.dev_types, DCASE2020.dev_sections, DCASE2020.eval_sections


def _files(root: Path, machine_type: str) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted((root / machine_type).rglob("*.wav"))}


def test_tiny_has_every_type_and_id_with_dcase_names(tiny_data):
    counts = synth.PRESETS["tiny"]
    for machine_type in MACHINE_TYPES:
        for split in ("train", "test"):
            for path in (tiny_data / machine_type / split).iterdir():
                parse_clip(path, machine_type, split)
        train = list_clips(tiny_data, machine_type, "train")
        test = list_clips(tiny_data, machine_type, "test")
        assert {c.section for c in train} == {c.section for c in test} == set(DEV_IDS[machine_type])
        assert {c.label for c in train} == {0}
        for section in DEV_IDS[machine_type]:
            labels = [c.label for c in test if c.section == section]
            assert labels.count(0) == counts[machine_type][section].test_normal
            assert labels.count(1) == counts[machine_type][section].test_anomaly
    assert (tiny_data / YEAR_FILE).read_text().strip() == "2020" and layout.detect(tiny_data).year == 2020


def test_tiny_clips_are_16k_pcm16_mono_of_exact_length(tiny_data):
    for machine_type in MACHINE_TYPES:
        for path in (tiny_data / machine_type).rglob("*.wav"):
            info = sf.info(str(path))
            assert (info.samplerate, info.channels, info.subtype, info.format) == (SAMPLE_RATE, 1, "PCM_16", "WAV")
            assert info.frames == int(DCASE2020.seconds(machine_type) * SAMPLE_RATE), path
    assert not list(tiny_data.rglob("*.tmp"))


def test_same_seed_same_bytes_with_any_workers(tiny_data, tmp_path):
    again = tmp_path / "again"
    synth.generate(again, size="tiny", seed=0, types=["valve"], workers=1, progress=False)
    assert _files(again, "valve") == _files(tiny_data, "valve")


def test_rerun_keeps_complete_files_and_other_seed_rewrites(tmp_path):
    root = tmp_path / "data"
    synth.generate(root, size="tiny", seed=0, types=["valve"], workers=1, progress=False)
    first = _files(root, "valve")
    clip = next(iter((root / "valve" / "train").iterdir()))
    before = clip.stat().st_mtime_ns
    synth.generate(root, size="tiny", seed=0, types=["valve"], workers=1, progress=False)
    assert clip.stat().st_mtime_ns == before
    synth.generate(root, size="tiny", seed=1, types=["valve"], workers=1, progress=False)
    second = _files(root, "valve")
    assert second.keys() == first.keys()
    assert all(second[name] != first[name] for name in first)


def test_different_seed_differs():
    assert not np.array_equal(synth.synthesize(0, "pump", "00", "train", 0), synth.synthesize(1, "pump", "00", "train", 0))


def test_eval_layout_and_ground_truth(tmp_path):
    root = tmp_path / "eval_data"
    summary = synth.generate(root, size="tiny", seed=0, types=["valve"], eval_layout=True, progress=False)
    assert Path(summary["ground_truth"]) == root / groundtruth.FILE_NAME
    lines = (root / groundtruth.FILE_NAME).read_text().splitlines()
    machine_type = "valve"
    test = list_clips(root, machine_type, "test")
    train = list_clips(root, machine_type, "train")
    assert {c.label for c in test} == {None} and {c.label for c in train} == {0}
    assert {c.section for c in test} == {c.section for c in train} == set(EVAL_IDS[machine_type])
    rows = lines[lines.index(machine_type) + 1:][: len(test)]
    assert sorted(r.split(",")[0] for r in rows) == sorted(c.name for c in test)
    for row in rows:
        eval_name, original, label = row.split(",")
        assert original.startswith(("normal_", "anomaly_")) and original.split("_", 1)[1][:5] == eval_name[:5]
        assert label == str(int(original.startswith("anomaly_")))
    assert sum(r.endswith(",1") for r in rows) == sum(
        counts.test_anomaly for counts in synth.id_counts("tiny", machine_type, eval_layout=True).values())




def test_bad_preset_and_type_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="tiny, small, medium, full"):
        synth.generate(tmp_path, size="huge")
    with pytest.raises(ConfigError, match="ToyCar"):
        synth.generate(tmp_path, size="tiny", types=["blender"])


def test_preset_counts_without_generating(tmp_path):
    for machine_type in MACHINE_TYPES:
        assert set(synth.PRESETS["small"][machine_type]) == set(DEV_IDS[machine_type])
        for counts in synth.PRESETS["small"][machine_type].values():
            assert 50 <= counts.train <= 60 and 20 <= counts.test_normal <= 30 and 20 <= counts.test_anomaly <= 30
    full = synth.PRESETS["full"]
    assert sum(c.total for ids in full.values() for c in ids.values()) == 30_987
    assert all(c.train == 1000 and c.test_normal == 350 for c in full["ToyCar"].values())
    assert all(c.test_normal == 100 and 434 <= c.train <= 968 for t in ("fan", "pump", "slider", "valve")
               for c in full[t].values())
    jobs, truth = synth.plan(tmp_path, "full", 0, list(MACHINE_TYPES), eval_layout=False)
    assert len(jobs) == 30_987 and truth == []


def _mean_spectrum(path: Path) -> np.ndarray:
    return realism.mean_spectrum(load_audio(path))


def test_anomalies_differ_from_normal_clips_of_their_id(tiny_data):
    """Anomalous test clips lie further from the ID's training clips than normal test clips do."""
    distances = {0: [], 1: []}
    for machine_type in MACHINE_TYPES:
        train = list_clips(tiny_data, machine_type, "train")
        references = {i: np.mean([_mean_spectrum(c.path) for c in train if c.section == i], axis=0)
                      for i in DEV_IDS[machine_type]}
        for clip in list_clips(tiny_data, machine_type, "test"):
            distances[clip.label].append(np.abs(_mean_spectrum(clip.path) - references[clip.section]).mean())
    assert np.mean(distances[1]) > np.mean(distances[0])


def _leaves(value):
    """The scalar leaves of nested parameters, in order."""
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, (list, tuple, np.ndarray)):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


@pytest.mark.parametrize("year", [2020, 2022])
def test_units_of_a_type_are_one_product_a_few_per_cent_apart(year):
    """Every unit shares its product's design: the same counts (blades, teeth), each continuous
    parameter within exp(±5 UNIT_SPREAD) of the design's, the same factory; no two units alike."""
    ed = editions.edition(year)
    for machine_type in ed.dev_types:
        design = _leaves(synth.product_params(0, machine_type, year)["sound"])
        units = [synth.machine_params(0, machine_type, section, year) for section in ed.dev_sections[machine_type]]
        limit = np.exp(5 * synth.UNIT_SPREAD)
        for unit in units:
            leaves = _leaves(unit["sound"])
            assert len(leaves) == len(design), machine_type
            for mine, theirs in zip(leaves, design):
                if isinstance(theirs, float) and theirs != 0:
                    assert 1 / limit < mine / theirs < limit, machine_type
                else:
                    assert mine == theirs, machine_type
            assert unit["factory"] is units[0]["factory"] or str(unit["factory"]) == str(units[0]["factory"])
        assert len({str(unit["sound"]) for unit in units}) == len(units), machine_type


@pytest.mark.parametrize("workers", [1, 2])
def test_every_planned_clip_is_written_with_the_progress_bar_on(tmp_path, workers):
    """What the summary counts is on disk, one worker or several, with the progress bar drawing."""
    summary = synth.generate(tmp_path, size="tiny", seed=0, types=["fan"], workers=workers, progress=True)
    written = sorted(tmp_path.rglob("*.wav"))
    assert len(written) == summary["files"] == 4 * (3 + 2 + 2)
    assert summary["bytes"] == sum(p.stat().st_size for p in written)
    assert summary["year"] == 2020 and summary["attributes"] == []
    assert all(p.stat().st_mode & 0o777 == fileio.FILE_MODE for p in written)


# ---------------------------------------------------------------------------------------------
# Editions 2021-2026 (one or two machine types each, the tiny preset)
# ---------------------------------------------------------------------------------------------

LATER = {2021: ["fan"], 2022: ["bearing"], 2023: ["gearbox", "ToyTrain"], 2024: ["gearbox", "fan"], 2026: ["valveEmu"]}


@pytest.fixture(scope="module")
def later(tmp_path_factory):
    """later(year) -> (root, summary): the tiny set of that edition for its LATER types, made once per module."""
    made = {}

    def get(year: int):
        if year not in made:
            root = tmp_path_factory.mktemp(f"synth{year}") / "dev_data"
            made[year] = root, synth.generate(root, size="tiny", seed=0, types=LATER[year], workers=1,
                                              progress=False, year=year)
        return made[year]
    return get


def _clips(root: Path, machine_type: str) -> list:
    return list_clips(root, machine_type, "train") + list_clips(root, machine_type, "test")


@pytest.mark.parametrize("year", list(LATER))
def test_later_editions_parse_with_their_rules_in_their_folders(later, year):
    root, summary = later(year)
    ed = editions.edition(year)
    assert layout.detect(root).year == year == summary["year"]
    assert (root / YEAR_FILE).read_text().strip() == str(year)
    assert layout.machine_types(root) == sorted(LATER[year], key=ed.dev_types.index)
    for machine_type in LATER[year]:
        clips = _clips(root, machine_type)
        assert len(clips) == len(list((root / machine_type).rglob("*.wav")))  # every file follows the edition's names
        assert {c.section for c in clips} == set(ed.dev_sections[machine_type])
        folders = {p.name for p in (root / machine_type).iterdir() if p.is_dir()}
        assert folders == ({"train", "source_test", "target_test"} if year == 2021 else {"train", "test"})
        for clip in clips:
            folder = clip.path.parent.name
            assert folder == ("train" if clip.split == "train" else f"{clip.domain}_test" if year == 2021 else "test")
    assert not list(root.rglob("*.tmp*"))


@pytest.mark.parametrize("year", [2021, 2022, 2023, 2024])
def test_later_editions_counts_per_section_domain_and_label(later, year):
    root, summary = later(year)
    counts = synth.section_counts("tiny", year)
    for machine_type in LATER[year]:
        clips = _clips(root, machine_type)
        for section in editions.edition(year).dev_sections[machine_type]:
            for domain in ("source", "target"):
                for split, label, expected in counts.groups(domain):
                    found = [c for c in clips if (c.section, c.domain, c.split, c.label_name) == (section, domain, split, label)]
                    assert len(found) == expected, (machine_type, section, domain, split, label)
                    assert sorted(c.index for c in found) == list(range(expected))
        per_type = summary["clips"][machine_type]
        sections = len(editions.edition(year).dev_sections[machine_type])
        assert per_type["source"]["train"] == sections * counts.source_train
        assert per_type["target"]["train"] == sections * counts.target_train
        assert per_type["target"]["test_anomaly"] == sections * counts.test_anomaly
        assert sum(per_type[k] for k in ("train", "test_normal", "test_anomaly")) == sections * counts.total == len(clips)


def test_section_presets_follow_the_real_sets_without_generating(tmp_path):
    assert synth.section_counts("full", 2021) == synth.DomainCounts(1000, 3, 100, 100)
    for year in (2022, 2023, 2024, 2025, 2026):
        assert synth.section_counts("full", year) == synth.DomainCounts(990, 10, 50, 50)
    assert synth.section_counts("tiny", 2022).total <= 15
    for year, target in ((2021, 3), (2022, 10)):
        small = synth.section_counts("small", year)
        assert small.source_train == 100 and small.target_train == target and small.test_normal == small.test_anomaly == 25
        assert synth.section_counts("medium", year).source_train > small.source_train
    for rules in (editions.RULES_2021, editions.RULES_2022):
        assert set(rules.synth_section_counts) == set(synth.PRESETS)
    for year in (2021, 2022, 2023):
        ed = editions.edition(year)
        jobs, truth = synth.plan(tmp_path, "full", 0, list(ed.dev_types), eval_layout=False, year=year)
        sections = sum(len(ed.dev_sections[t]) for t in ed.dev_types)
        assert truth == [] and len(jobs) == sections * synth.section_counts("full", year).total
        assert len({job.path for job in jobs}) == len(jobs)


def _csv_rows(path: Path) -> tuple[list[str], dict[str, list[str]]]:
    header, *rows = [line.split(",") for line in path.read_text().splitlines()]
    return header, {row[0]: row[1:] for row in rows}


@pytest.mark.parametrize("year", [2022, 2023, 2024])
def test_attribute_csvs_list_exactly_the_clips_with_the_attributes_of_their_names(later, year):
    root, summary = later(year)
    ed = editions.edition(year)
    assert sorted(summary["attributes"]) == sorted(str(root / t / f"attributes_{s}.csv")
                                                   for t in LATER[year] for s in ed.dev_sections[t])
    for machine_type in LATER[year]:
        for section in ed.dev_sections[machine_type]:
            header, rows = _csv_rows(root / machine_type / f"attributes_{section}.csv")
            assert header[0] == "file_name" and header[1:] == [f"d{i // 2 + 1}{'pv'[i % 2]}" for i in range(len(header) - 1)]
            clips = [c for c in _clips(root, machine_type) if c.section == section]
            assert set(rows) == {f"{machine_type}/{c.split}/{c.name}" for c in clips}
            for clip in clips:
                cells = rows[f"{machine_type}/{clip.split}/{clip.name}"]
                pairs = attribute_pairs(clip.attributes)
                expected = ["noAttribute", ""] if clip.attributes == "noAttribute" else \
                    [cell for pair in pairs.items() for cell in pair]
                assert cells == expected + [""] * (len(header) - 1 - len(expected))


def test_2021_has_no_attribute_csv_and_free_form_speed(later):
    root, summary = later(2021)
    assert summary["attributes"] == [] and not list(root.rglob("*.csv"))
    assert all(c.attributes.startswith("speed_") for c in _clips(root, "fan"))


@pytest.mark.parametrize("year", [2021, 2022, 2023, 2024])
def test_each_domain_of_a_section_is_one_named_condition(later, year):
    """All clips of a section and domain share one attribute text; source and target differ (except noAttribute)."""
    root, _ = later(year)
    for machine_type in LATER[year]:
        clips = _clips(root, machine_type)
        hidden = machine_type in editions.edition(year).no_attribute
        for section in editions.edition(year).dev_sections[machine_type]:
            named = {d: {c.attributes for c in clips if (c.section, c.domain) == (section, d)} for d in ("source", "target")}
            assert all(len(texts) == 1 for texts in named.values())
            (source,), (target,) = named["source"], named["target"]
            if hidden:
                assert source == target == "noAttribute"
                continue
            assert source != target
            assert attribute_pairs(source).keys() == attribute_pairs(target).keys()
            assert list(attribute_pairs(source))[1:] == ["noise", "mic"]
            assert attribute_pairs(source)["noise"] == "A" and attribute_pairs(source)["mic"] == "1"


def test_2024_hides_the_attributes_of_some_types_only(later):
    root, _ = later(2024)
    assert {c.attributes for c in _clips(root, "gearbox")} == {"noAttribute"}
    assert "noAttribute" not in {c.attributes for c in _clips(root, "fan")}


def test_later_edition_same_bytes_with_any_workers(later, tmp_path):
    root, _ = later(2023)
    again = tmp_path / "again"
    synth.generate(again, size="tiny", seed=0, types=LATER[2023], workers=2, progress=False, year=2023)
    for machine_type in LATER[2023]:
        assert _files(again, machine_type) == _files(root, machine_type)
        assert (again / machine_type / "attributes_00.csv").read_text() == (root / machine_type / "attributes_00.csv").read_text()
    assert (again / YEAR_FILE).read_text() == (root / YEAR_FILE).read_text()


def test_target_domain_is_a_measurable_shift():
    """Per section, a target normal clip lies farther from a source normal clip (mean log-mel spectra)
    than two source normal clips lie from each other: the target changes the speed and the background
    or the microphone, by construction, beyond the clip-to-clip spread of one condition."""
    ratios = []
    for section in editions.edition(2022).dev_sections["bearing"]:
        clips = pd.DataFrame([{"machine_type": "bearing", "section": domain, "label": "normal",
                               "spectrum": realism.mean_spectrum(synth.synthesize(0, "bearing", section, "normal", i, domain, 2022))}
                              for domain in ("source", "target") for i in range(6)])
        ratios.append(realism.separation(clips).loc["bearing", "between/within"])
    assert min(ratios) > 1.15 and np.mean(ratios) > 1.3, ratios


def test_target_condition_changes_speed_and_background_or_microphone():
    for year, machine_type in ((2021, "pump"), (2022, "slider"), (2023, "ToyCar"), (2026, "valveEmu")):
        for section in editions.edition(year).dev_sections[machine_type]:
            machine = synth.machine_params(0, machine_type, section, year)
            source = synth.condition(0, year, machine_type, section, "source", machine)
            target = synth.condition(0, year, machine_type, section, "target", machine)
            assert source.speed == 1.0 and source.microphone is None
            assert 1.1 <= max(target.speed, 1 / target.speed) <= 1.25
            background = target.factory != source.factory and abs(target.snr_db - source.snr_db) == synth.SNR_STEP_DB
            assert background or target.microphone is not None
            assert (target.noise == "B") == background and (target.mic == "2") == (target.microphone is not None)


@pytest.mark.parametrize("machine_type", ["gearbox", "bearing", "ToyTrain"])
def test_new_sound_models_render_every_fault(machine_type):
    model = synth.MACHINES[machine_type]
    params = model.params(np.random.default_rng(0))
    n = 2 * SAMPLE_RATE
    normal, extra = model.render(np.random.default_rng(1), n, params, None, 0.0)
    assert normal.shape == extra.shape == (n,) and np.all(np.isfinite(normal)) and not extra.any()
    for fault in model.faults:
        faulty, extra = model.render(np.random.default_rng(1), n, params, fault, 1.0)
        assert np.all(np.isfinite(faulty)) and np.all(np.isfinite(extra))
        assert np.abs(extra).sum() > 0 or not np.allclose(faulty, normal), fault


def test_years_types_and_eval_layout_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="2020, 2021"):
        synth.generate(tmp_path, size="tiny", year=2019)
    with pytest.raises(ConfigError, match="2020 only"):
        synth.generate(tmp_path, size="tiny", year=2022, eval_layout=True)
    with pytest.raises(ConfigError, match="bearing"):
        synth.generate(tmp_path, size="tiny", year=2022, types=["pump"])
    with pytest.raises(ConfigError, match="gearbox"):
        synth.generate(tmp_path, size="tiny", year=2021, types=["ToyConveyor"])
    with pytest.raises(ConfigError, match="bearingEmu"):
        synth.generate(tmp_path, size="tiny", year=2026, types=["bearing"])
    assert not list(tmp_path.iterdir())
