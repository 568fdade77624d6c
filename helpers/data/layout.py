"""The DCASE anomalous-sound data layouts, 2020 to 2026: reading a data folder's clips by their names.

Each edition is one row of helpers.data.editions.EDITIONS; its rules object (``ed.rules``) says which
names and folders it accepts and how they read. A clip's *section* is its group (2020: machine
ID, later: section): the group results are computed for. Everything is read from the names alone;
parsing is strict. A ``.wav`` file whose name does not follow its edition's pattern is skipped
(see :mod:`helpers.skiplog`); other files are ignored. The edition of a data folder is detected
(:func:`detect`) or named (:func:`resolve`).

DCASE 2025 adds ``<type>/supplemental/``: clean machine sound (recorded without the factory's
noise) and noise alone, named ``section_00_<machine|noise>[_<domain>]_NNNN[_<attributes>].wav``
(:func:`supplemental_clips`). A clean machine clip reads as a normal training clip of its section.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from helpers import skiplog
from helpers.data import editions
from helpers.data.editions import SPLITS, Edition, Rules, check_split
from helpers.errors import ConfigError, DataLayoutError

SAMPLE_RATE = 16_000
YEAR_FILE = ".dcase_year"  # written by synth and download: the edition of a data folder, as text ("2023")
SUPPLEMENTAL = "supplemental"  # <type>/supplemental/ (2025): clean machine sound and noise alone
SUPPLEMENTAL_KINDS = ("machine", "noise")
SUPPLEMENTAL_ACCEPTED = "section_XX_{machine,noise}[_{source,target}]_NNNN[_<attributes>].wav"
_SUPPLEMENTAL_NAME = re.compile(r"^section_(?P<section>\d{2})_(?P<kind>machine|noise)(?:_(?P<domain>source|target))?"
                                r"_(?P<index>\d{4,8})(?:_(?P<attributes>.*))?\.wav$")


@dataclass(frozen=True)
class Clip:
    """One audio file of the dataset, described by its name.

    section: its group (2020: machine ID, later: section; "00"); domain: "source" or "target"
    (2020: always "source"; None for an eval clip whose name hides it); label: 0 (normal), 1
    (anomaly) or None (eval test clip, label unknown); attributes: the name's attribute part
    ("car_A1_spd_28V_mic_1", "noAttribute"), "" when it has none.
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


def _parse(path: Path, machine_type: str, split: str, rules: Rules, pattern: str, domain: str | None) -> Clip:
    """Describe one file from its name under `rules`; DataLayoutError naming the file and the accepted
    names (`pattern`: whose, e.g. "DCASE 2023 Task 2") if it is wrong. `domain`: the domain its folder requires, else None."""
    check_split(split)
    parts = rules.match(path, split)
    if parts is None:
        raise DataLayoutError(f"{path}: file name does not follow the {pattern} pattern; accepted: {rules.accepted}")
    if domain is not None and parts.domain != domain:
        raise DataLayoutError(f"{path}: a {parts.domain}-domain clip in the {domain}-domain folder {path.parent.name}")
    return Clip(machine_type, split, parts.section, parts.index, parts.label, path, parts.domain, parts.attributes)


def _check_root(root: Path) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise DataLayoutError(
            f"data folder {root} does not exist; expected <data>/<machine_type>/train and /test "
            f"(run `python -m helpers synth --out {root}` for synthetic data)"
        )
    return root


def _type_folders(root: Path) -> list[Path]:
    return [d for d in root.iterdir() if d.is_dir() and any((d / s).is_dir() for s in editions.CLIP_FOLDERS)]


def detect(root: str | Path) -> Edition:
    """The edition of a data folder: the year its YEAR_FILE names, else read from its folders and
    names by helpers.data.editions.identify (its rule set, then the marker of a year of that rule set)."""
    root = _check_root(root)
    marker = root / YEAR_FILE
    if marker.is_file():
        text = marker.read_text().strip()
        try:
            return editions.edition(text)
        except ConfigError as err:
            raise DataLayoutError(f"{marker}: {err}") from None
    folders = _type_folders(root)
    names = [p.name for d in folders for s in SPLITS if (d / s).is_dir() for p in (d / s).iterdir()
             if p.suffix.lower() == ".wav"]
    return editions.identify(folders, names)


def resolve(root: str | Path, year=None) -> Edition:
    """The named edition (`year`), else the one detected in `root`."""
    return editions.edition(year) if year not in (None, "") else detect(root)


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
    (2021: source_test and target_test) and which names are accepted (``ed.rules``). Badly named ``.wav`` files
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
            f"{{{','.join(['train', *ed.rules.test_folders])}}}); found in {parent}: {present or 'nothing'}"
        )
    clips = []
    for folder, domain in folders.items():
        for path in sorted(folder.iterdir()) if folder.is_dir() else []:
            if path.suffix.lower() != ".wav" or not path.is_file():
                continue
            try:
                clips.append(_parse(path, machine_type, split, ed.rules, ed.name, domain))
            except DataLayoutError as err:
                skiplog.skip(path, str(err).split(": ", 1)[-1])
    return sorted(clips, key=clip_order)


def parse_clip(path: str | Path, machine_type: str, split: str, ed: Edition | None = None) -> Clip:
    """Describe one file from its name: by the edition's rules, or (`ed` None) by the rule set the
    path follows (helpers.data.editions.rules_of_name: 2021's in a source_test or target_test folder,
    else the first whose pattern the name follows); a clean machine clip of a supplemental folder as
    a normal training clip (:func:`supplemental_clips`). DataLayoutError naming the file and what is accepted otherwise."""
    path = Path(path)
    if path.parent.name == SUPPLEMENTAL and split == "train":
        kind, clip = _parse_supplemental(path, machine_type)
        if kind != "machine":
            raise DataLayoutError(f"{path}: a {kind} clip, not machine sound: it is never a training clip")
        return clip
    rules = ed.rules if ed else editions.rules_of_name(path)
    domain = rules.test_folders.get(path.parent.name) if split == "test" else None
    return _parse(path, machine_type, split, rules, ed.name if ed else rules.title, domain)


def _parse_supplemental(path: Path, machine_type: str) -> tuple[str, Clip]:
    """(kind, the clip as a normal training clip of its section) of a supplemental file, from its name."""
    match = _SUPPLEMENTAL_NAME.match(path.name)
    if match is None:
        raise DataLayoutError(f"{path}: file name does not follow the supplemental pattern; accepted: "
                              f"{SUPPLEMENTAL_ACCEPTED}")
    return match["kind"], Clip(machine_type, "train", match["section"], int(match["index"]), 0, path,
                               match["domain"] or "source", match["attributes"] or "")


def supplemental_clips(root: str | Path, machine_type: str, kind: str) -> list[Clip]:
    """The clips of one kind ("machine" or "noise") in <root>/<machine_type>/supplemental/, each as a
    normal training clip of the section, domain (default source) and attributes its name gives; []
    where there is no such folder. Badly named ``.wav`` files are skipped and recorded."""
    if kind not in SUPPLEMENTAL_KINDS:
        raise ConfigError(f"unknown supplemental clip kind {kind!r}; accepted: {', '.join(SUPPLEMENTAL_KINDS)}")
    folder = Path(root) / machine_type / SUPPLEMENTAL
    found = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if path.suffix.lower() != ".wav" or not path.is_file():
            continue
        try:
            parsed_kind, clip = _parse_supplemental(path, machine_type)
        except DataLayoutError as err:
            skiplog.skip(path, str(err).split(": ", 1)[-1])
            continue
        if parsed_kind == kind:
            found.append(clip)
    return sorted(found, key=clip_order)


def type_list(machine_types) -> list[str] | None:
    """Machine types given as a list or as comma-separated text ("fan, valve"), as a list; None for none given."""
    if machine_types in (None, "", []):
        return None
    if isinstance(machine_types, str):
        return [t.strip() for t in machine_types.split(",")]
    return list(machine_types)


def sections(clips: list[Clip]) -> list[str]:
    """The sorted distinct groups (2020: machine IDs, later: sections) among `clips`."""
    return sorted({c.section for c in clips})


def group_word(file_name: str) -> str:
    """What the group of a clip of this name is called under the rule set its name follows: "id" (2020), else "section"."""
    return editions.rules_of_name(file_name).group_word


def group_title(file_name: str, section: str, domain: str | None) -> str:
    """How the group of a clip of this name is named in titles under the rule set its name follows:
    "id 00" (2020), "section 00 · target" (later)."""
    return editions.rules_of_name(file_name).group_title(section, domain)


def attribute_pairs(attributes: str) -> dict[str, str]:
    """A name's attribute part as {key: value}: "car_A1_spd_28V_mic_1" -> {car: A1, spd: 28V, mic: 1};
    {} for "" or "noAttribute"; an odd part without a value (2021's "strength_1_ambient") keeps "" as its value."""
    if attributes in ("", "noAttribute"):
        return {}
    parts = attributes.split("_")
    return {parts[i]: parts[i + 1] if i + 1 < len(parts) else "" for i in range(0, len(parts), 2)}
