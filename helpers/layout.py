"""The DCASE anomalous-sound data layouts, 2020 to 2026: machine types, sections, domains, names.

Every edition of the task is one :class:`Edition` in :data:`EDITIONS`; three rule sets
(``style``) cover them all:

- ``2020``  <root>/<type>/train/normal_id_XX_NNNNNNNN.wav, <root>/<type>/test/{normal,anomaly}_id_XX_NNNNNNNN.wav
  (eval test: id_XX_NNNNNNNN.wav). Results are grouped by machine ID; one domain.
- ``2021``  <root>/<type>/train/section_XX_{source,target}_train_normal_NNNN[_<attributes>].wav,
  <root>/<type>/{source,target}_test/section_XX_<domain>_test_{normal,anomaly}_NNNN[_<attributes>].wav
  (eval test: section_XX_<domain>_test_NNNN.wav). Grouped by section and domain.
- ``2022`` (2022-2026) the same names, every test clip in one <root>/<type>/test/ folder (eval
  test: section_XX_NNNN.wav, domain unknown); per-section attributes_XX.csv beside the type
  folders. Grouped by section, with source and target figures per section.

A clip's *section* is its machine ID in 2020 and its section from 2021 on: the group results are
computed for. Everything is read from the names alone; parsing is strict. A ``.wav`` file whose
name does not follow its edition's pattern is skipped (see :mod:`helpers.skiplog`); other files
are ignored. The edition of a data folder is detected (:func:`detect`) or named (:func:`edition`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from helpers import skiplog
from helpers.errors import ConfigError, DataLayoutError

SAMPLE_RATE = 16_000
MACHINE_TYPES = ("ToyCar", "ToyConveyor", "fan", "pump", "slider", "valve")  # DCASE 2020
DEV_IDS = {
    "ToyCar": ("01", "02", "03", "04"),
    "ToyConveyor": ("01", "02", "03"),
    "fan": ("00", "02", "04", "06"),
    "pump": ("00", "02", "04", "06"),
    "slider": ("00", "02", "04", "06"),
    "valve": ("00", "02", "04", "06"),
}
EVAL_IDS = {
    "ToyCar": ("05", "06", "07"),
    "ToyConveyor": ("04", "05", "06"),
    "fan": ("01", "03", "05"),
    "pump": ("01", "03", "05"),
    "slider": ("01", "03", "05"),
    "valve": ("01", "03", "05"),
}
CLIP_SECONDS = {"ToyCar": 11.0, "ToyConveyor": 10.0, "fan": 10.0, "pump": 10.0, "slider": 10.0, "valve": 10.0}
SPLITS = ("train", "test")
LABELS = {"normal": 0, "anomaly": 1}
DOMAINS = ("source", "target")
YEAR_FILE = ".dcase_year"  # written by synth and download: the edition of a data folder, as text ("2023")

_ID_LABELLED = re.compile(r"^(normal|anomaly)_id_(\d{2})_(\d{8})\.wav$")
_ID_UNLABELLED = re.compile(r"^id_(\d{2})_(\d{8})\.wav$")
_SECTION_LABELLED = re.compile(r"^section_(\d{2})_(source|target)_(train|test)_(normal|anomaly)_(\d{4,8})(?:_(.+))?\.wav$")
_SECTION_UNLABELLED = re.compile(r"^section_(\d{2})_(?:(source|target)_test_)?(\d{4,8})(?:_(.+))?\.wav$")
_ACCEPTED = {
    "2020": "normal_id_XX_NNNNNNNN.wav, anomaly_id_XX_NNNNNNNN.wav or (eval test) id_XX_NNNNNNNN.wav",
    "2021": "section_XX_{source,target}_{train,test}_{normal,anomaly}_NNNN[_<attributes>].wav "
            "or (eval test) section_XX_{source,target}_test_NNNN.wav",
    "2022": "section_XX_{source,target}_{train,test}_{normal,anomaly}_NNNN[_<attributes>].wav "
            "or (eval test) section_XX_NNNN.wav",
}

_2021_TYPES = ("ToyCar", "ToyTrain", "fan", "gearbox", "pump", "slider", "valve")
_2022_TYPES = ("ToyCar", "ToyTrain", "bearing", "fan", "gearbox", "slider", "valve")


@dataclass(frozen=True)
class Edition:
    """One year of the DCASE anomalous-sound task: its rules (`style`), machine types and sections.

    dev_types / eval_types: the machine types of the development and evaluation sets as
    published (folders of other names are read too); dev_sections / eval_sections: the section
    names of each set from 2021 on (2020's machine IDs, per type: DEV_IDS, EVAL_IDS);
    clip_seconds: clip lengths per type where they are not 10 s.
    """

    year: int
    style: str
    dev_types: tuple[str, ...]
    eval_types: tuple[str, ...]
    dev_sections: tuple[str, ...] = ()
    eval_sections: tuple[str, ...] = ()
    clip_seconds: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"DCASE {self.year} Task 2"

    @property
    def group(self) -> str:
        """What results are grouped by: 'id' (2020) or 'section'."""
        return "id" if self.style == "2020" else "section"

    @property
    def domains(self) -> tuple[str, ...]:
        return ("source",) if self.style == "2020" else DOMAINS

    @property
    def machine_types(self) -> tuple[str, ...]:
        """Development then evaluation types, each once, in the published order."""
        return tuple(dict.fromkeys(self.dev_types + self.eval_types))

    def test_folders(self) -> dict[str, str | None]:
        """{folder name under <type>/: the domain its clips must have (None: any)}."""
        return {"source_test": "source", "target_test": "target"} if self.style == "2021" else {"test": None}

    def folders(self, split: str) -> dict[str, str | None]:
        """The folders holding one split's clips, as :meth:`test_folders`."""
        check_split(split)
        return {"train": None} if split == "train" else self.test_folders()

    def clip_name(self, section: str, index: int, split: str, label: str | None,
                  domain: str = "source", attributes: str = "") -> str:
        """The file name of a clip; `label` None for an unlabelled (eval) test clip.

        2020: ``normal_id_00_00000012.wav``; later: ``section_00_target_test_anomaly_0012_<attributes>.wav``
        (2022 style unlabelled: ``section_00_0012.wav``).
        """
        check_split(split)
        if self.style == "2020":
            stem = f"id_{section}_{index:08d}.wav"
            return stem if label is None else f"{label}_{stem}"
        tail = f"_{attributes}" if attributes else ""
        if label is None:
            return f"section_{section}_{index:04d}.wav" if self.style == "2022" else \
                f"section_{section}_{domain}_test_{index:04d}{tail}.wav"
        return f"section_{section}_{domain}_{split}_{label}_{index:04d}{tail}.wav"

    def parse(self, path: str | Path, machine_type: str, split: str, domain: str | None = None) -> Clip:
        """Describe one file from its name; DataLayoutError naming the file and the accepted names if it is wrong.

        `domain`: the domain its folder requires (2021's source_test/target_test), else None.
        """
        path = Path(path)
        check_split(split)
        clip = _parse_id_name(path, machine_type, split) if self.style == "2020" else \
            _parse_section_name(path, machine_type, split, self.style)
        if clip is None:
            raise DataLayoutError(f"{path}: file name does not follow the {self.name} pattern; "
                                  f"accepted: {_ACCEPTED[self.style]}")
        if domain is not None and clip.domain != domain:
            raise DataLayoutError(f"{path}: a {clip.domain}-domain clip in the {domain}-domain folder {path.parent.name}")
        return clip


@dataclass(frozen=True)
class Clip:
    """One audio file of the dataset, described by its name.

    section: the machine ID (2020) or section ("00"); domain: "source" or "target" (2020: always
    "source"; None for an eval clip whose name hides it); label: 0 (normal), 1 (anomaly) or None
    (eval test clip, label unknown); attributes: the name's attribute part ("car_A1_spd_28V_mic_1",
    "noAttribute"), "" when it has none.
    """

    machine_type: str
    split: str
    section: str
    index: int
    label: int | None
    path: Path
    domain: str | None = "source"
    attributes: str = ""

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def label_name(self) -> str:
        return {0: "normal", 1: "anomaly", None: "unknown"}[self.label]


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise DataLayoutError(f"split must be one of {SPLITS}, got {split!r}")


def _parse_id_name(path: Path, machine_type: str, split: str) -> Clip | None:
    match = _ID_LABELLED.match(path.name)
    if match:
        label_word, section, index = match.groups()
        if split == "train" and label_word != "normal":
            raise DataLayoutError(f"{path}: training folders hold normal clips only, found {label_word!r}")
        return Clip(machine_type, split, section, int(index), LABELS[label_word], path)
    match = _ID_UNLABELLED.match(path.name)
    if match and split == "test":
        section, index = match.groups()
        return Clip(machine_type, split, section, int(index), None, path)
    return None


def _parse_section_name(path: Path, machine_type: str, split: str, style: str) -> Clip | None:
    match = _SECTION_LABELLED.match(path.name)
    if match:
        section, domain, name_split, label_word, index, attributes = match.groups()
        if name_split != split:
            raise DataLayoutError(f"{path}: a {name_split} clip in a {split} folder")
        if split == "train" and label_word != "normal":
            raise DataLayoutError(f"{path}: training folders hold normal clips only, found {label_word!r}")
        return Clip(machine_type, split, section, int(index), LABELS[label_word], path, domain, attributes or "")
    match = _SECTION_UNLABELLED.match(path.name)
    if match and split == "test" and (match.group(2) is not None) == (style == "2021"):
        section, domain, index, attributes = match.groups()
        return Clip(machine_type, split, section, int(index), None, path, domain, attributes or "")
    return None


EDITIONS: dict[int, Edition] = {e.year: e for e in (
    Edition(2020, "2020", MACHINE_TYPES, MACHINE_TYPES, clip_seconds=CLIP_SECONDS),
    Edition(2021, "2021", _2021_TYPES, _2021_TYPES, ("00", "01", "02"), ("03", "04", "05")),
    Edition(2022, "2022", _2022_TYPES, _2022_TYPES, ("00", "01", "02"), ("03", "04", "05")),
    Edition(2023, "2022", _2022_TYPES, ("ToyDrone", "ToyNscale", "ToyTank", "Vacuum", "bandsaw", "grinder", "shaker"),
            ("00",), ("00",)),
    Edition(2024, "2022", _2022_TYPES, ("3DPrinter", "AirCompressor", "BrushlessMotor", "HairDryer", "HoveringDrone",
                                        "RoboticArm", "Scanner", "ToothBrush", "ToyCircuit"),
            ("00",), ("00",)),  # names of clips without attributes end in _noAttribute
    Edition(2025, "2022", _2022_TYPES, ("AutoTrash", "BandSealer", "CoffeeGrinder", "HomeCamera", "Polisher",
                                        "ScrewFeeder", "ToyPet", "ToyRCCar"),
            ("00",), ("00",)),  # a supplemental/ folder per type holds extra clips, not read for training
    Edition(2026, "2022", ("ToyCar", "ToyCarEmu", "bearingEmu", "fan", "gearboxEmu", "sliderEmu", "valveEmu"),
            ("BlowerDustCollector", "Sander", "SewingMachine", "ToothBrush", "ToyDrone"), ("00",), ("00",)),
    # 2026: emulated machine types (<type>Emu) beside recorded ones; the clips are two-channel
)}
YEARS = tuple(EDITIONS)


def edition(year) -> Edition:
    """The edition of a year (int or text); ConfigError listing the years accepted otherwise."""
    try:
        return EDITIONS[int(year)]
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"year {year!r} is not a DCASE anomalous-sound edition; accepted: "
                          f"{', '.join(map(str, YEARS))}") from None


def _check_root(root: Path) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise DataLayoutError(
            f"data folder {root} does not exist; expected <data>/<machine_type>/train and /test "
            f"(run `python -m helpers synth --out {root}` for synthetic data)"
        )
    return root


def _type_folders(root: Path) -> list[Path]:
    names = ("train", "test", "source_test", "target_test")
    return [d for d in root.iterdir() if d.is_dir() and any((d / s).is_dir() for s in names)]


def detect(root: str | Path) -> Edition:
    """The edition of a data folder: the year its YEAR_FILE names, else read from its folders and names.

    source_test/ folders mean 2021; section_XX names in one test/ folder mean 2022-2026, told
    apart where the data show it (emulated <type>Emu types: 2026; supplemental/ folders: 2025;
    _noAttribute names: 2024; one section 00 per type: 2023; else 2022); id_XX names, or no
    clips at all, mean 2020.
    """
    root = _check_root(root)
    marker = root / YEAR_FILE
    if marker.is_file():
        text = marker.read_text().strip()
        try:
            return edition(text)
        except ConfigError as err:
            raise DataLayoutError(f"{marker}: {err}") from None
    folders = _type_folders(root)
    if any((d / f).is_dir() for d in folders for f in ("source_test", "target_test")):
        return EDITIONS[2021]
    names = [p.name for d in folders for s in SPLITS if (d / s).is_dir() for p in (d / s).iterdir()
             if p.suffix.lower() == ".wav"]
    sectioned = [n for n in names if n.startswith("section_")]
    if not sectioned or len(sectioned) < len(names) - len(sectioned):
        return EDITIONS[2020]
    if any(d.name.endswith("Emu") for d in folders):
        return EDITIONS[2026]
    if any((d / "supplemental").is_dir() for d in folders):
        return EDITIONS[2025]
    if any("noAttribute" in n for n in sectioned):
        return EDITIONS[2024]
    return EDITIONS[2023] if {n[8:10] for n in sectioned} == {"00"} else EDITIONS[2022]


def resolve(root: str | Path, year=None) -> Edition:
    """The named edition (`year`), else the one detected in `root`."""
    return edition(year) if year not in (None, "") else detect(root)


def machine_types(root: str | Path, ed: Edition | None = None) -> list[str]:
    """The machine types under `root`: sub-folders holding a train or test folder, in the edition's order."""
    root = _check_root(root)
    ed = ed or detect(root)
    found = [d.name for d in _type_folders(root)]
    if not found:
        entries = sorted(p.name for p in root.iterdir())[:10]
        raise DataLayoutError(
            f"{root} holds no machine-type folder: expected <machine_type>/train or <machine_type>/test "
            f"inside it (machine types of {ed.name}: {', '.join(ed.machine_types)}); found {entries or 'nothing'}"
        )
    order = {t: i for i, t in enumerate(ed.machine_types)}
    return sorted(found, key=lambda t: (order.get(t, len(order)), t))


def clip_order(clip: Clip) -> tuple:
    """Clips sort by (section, domain, label, index): each group's normals, then anomalies, by index."""
    return clip.section, clip.domain or "", -1 if clip.label is None else clip.label, clip.index


def list_clips(root: str | Path, machine_type: str, split: str, ed: Edition | None = None) -> list[Clip]:
    """All well-named clips of one machine type and split, sorted by :func:`clip_order`.

    `ed`: the edition (default: detected in `root`), which says which folders hold the split
    (2021: source_test and target_test) and which names are accepted. Badly named ``.wav`` files
    are skipped and recorded; non-``.wav`` files are ignored. DataLayoutError if no folder of the
    split is there, saying which folders were expected.
    """
    root = _check_root(root)
    ed = ed or detect(root)
    folders = {root / machine_type / name: domain for name, domain in ed.folders(split).items()}
    if not any(f.is_dir() for f in folders):
        parent = root / machine_type
        present = sorted(p.name for p in parent.iterdir()) if parent.is_dir() else []
        raise DataLayoutError(
            f"expected folder {' or '.join(map(str, folders))} ({ed.name} layout <data>/<machine_type>/"
            f"{{{','.join(['train', *ed.test_folders()])}}}); found in {parent}: {present or 'nothing'}"
        )
    clips = []
    for folder, domain in folders.items():
        for path in sorted(folder.iterdir()) if folder.is_dir() else []:
            if path.suffix.lower() != ".wav" or not path.is_file():
                continue
            try:
                clips.append(ed.parse(path, machine_type, split, domain))
            except DataLayoutError as err:
                skiplog.skip(path, str(err).split(": ", 1)[-1])
    return sorted(clips, key=clip_order)


def parse_clip(path: str | Path, machine_type: str, split: str, ed: Edition | None = None) -> Clip:
    """Describe one file from its name (the edition's rules; default: 2021 in a source_test or
    target_test folder, else 2022 for section_ names, else 2020)."""
    if ed is None:
        in_domain_folder = Path(path).parent.name in EDITIONS[2021].test_folders()
        ed = EDITIONS[2021] if in_domain_folder else EDITIONS[2022] if Path(path).name.startswith("section_") \
            else EDITIONS[2020]
    domain = ed.folders(split).get(Path(path).parent.name) if ed.style == "2021" else None
    return ed.parse(path, machine_type, split, domain)


def type_list(machine_types) -> list[str] | None:
    """Machine types given as a list or as comma-separated text ("fan, valve"), as a list; None for none given."""
    if machine_types in (None, "", []):
        return None
    if isinstance(machine_types, str):
        return [t.strip() for t in machine_types.split(",")]
    return list(machine_types)


def sections(clips: list[Clip]) -> list[str]:
    """The sorted distinct sections (2020: machine IDs) among `clips`."""
    return sorted({c.section for c in clips})


def group_word(file_name: str) -> str:
    """What a clip's group is called: "id" for a 2020 name, else "section"."""
    return "id" if _ID_LABELLED.match(file_name) or _ID_UNLABELLED.match(file_name) else "section"


def group_title(file_name: str, section: str, domain: str | None) -> str:
    """How a clip's group is named in titles: "id 00" for a 2020 name, else "section 00 · target"."""
    if group_word(file_name) == "id":
        return f"id {section}"
    return f"section {section} · {domain or 'unknown domain'}"


def attribute_pairs(attributes: str) -> dict[str, str]:
    """A name's attribute part as {key: value}: "car_A1_spd_28V_mic_1" -> {car: A1, spd: 28V, mic: 1};
    {} for "" or "noAttribute"; an odd part without a value (2021's "strength_1_ambient") keeps "" as its value."""
    if attributes in ("", "noAttribute"):
        return {}
    parts = attributes.split("_")
    return {parts[i]: parts[i + 1] if i + 1 < len(parts) else "" for i in range(0, len(parts), 2)}
