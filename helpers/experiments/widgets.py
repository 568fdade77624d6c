"""An interactive clip browser for JupyterLab: find, hear and see where a model fails.

Choose machine type, ID, label and clip (or the most anomalous normal clips / the least
anomalous anomalies of the last test run); the browser plays the clip and shows what the model
makes of it (plots.clip_panels: its log-mel, the reconstruction and the error on shared colour
scales, or for a network that tells machine IDs apart the probability of each ID over time),
its score over time, and where the clip's score sits among all test scores of its ID, each
labelled by what the solution's score is (helpers.detectors.scoring.score_label). Choosing a second
solution shows its panels for the same clip below the first; besides the solutions given, every
other solution with a test run under the same result root is offered for comparison. Usable from any notebook
in one line: ``widgets.browse(["pytorch", "vae"])``.

Widgets exist only where a person's frontend renders them: in a headless kernel (papermill,
nbconvert) :func:`browse` shows a short note instead and creates no widget, so a headless run
never waits on a frontend that is not there (helpers.frontend).
"""
from __future__ import annotations

from pathlib import Path

import ipywidgets as w
from matplotlib.figure import Figure
import pandas as pd
from IPython.display import Audio, Markdown, display

from helpers import frontend, paths
from helpers.data import layout
from helpers.detectors import solution
from helpers.experiments import inspection, pipeline
from helpers.figures import plots
from helpers.errors import ToolkitError
from helpers.experiments.results import read_scores_table

ORDERS = {
    "by name": None,
    "most anomalous normal clips": (0, False),
    "least anomalous anomalies": (1, True),
    "highest scores": (None, False),
    "lowest scores": (None, True),
}
LABEL_CHOICES = {"all": None, "normal": 0, "anomaly": 1}
HEADLESS_NOTE = ("*Clip browser: interactive in JupyterLab (no frontend renders widgets in this headless run). "
                 "Open the notebook in JupyterLab to pick clips, hear them and compare solutions; the figures "
                 "above show the default selection.*")


def browse(solutions, result_root=None, threshold: float | None = None):
    """The clip browser where a person can use it (a cell's last line); a note in a headless kernel.

    `threshold`: the score drawn as the decision threshold; None: each run's own threshold for the
    clip's machine type and section (helpers.detectors.decisions, fitted by its test run)."""
    if frontend.headless_kernel():
        return Markdown(HEADLESS_NOTE)
    return ClipBrowser(solutions, result_root, threshold).show()


def _as_solutions(solutions) -> list[solution.Solution]:
    listed = [solutions] if isinstance(solutions, (str, solution.Solution)) else list(solutions)
    return [s if isinstance(s, solution.Solution) else solution.load(paths.NOTEBOOKS / s) for s in listed]


def runs_to_compare(shown: list[solution.Solution], result_root=None) -> list[solution.Solution]:
    """Other solutions (folders under notebooks/) whose last test run under `result_root` scored
    some of the same clips as the first of `shown`."""
    root = Path(result_root or paths.RESULT)
    taken = {s.run_name for s in shown}
    clips = set(read_scores_table(shown[0].result_dir(result_root))["path"])
    found = []
    for folder in solution.solution_folders(paths.NOTEBOOKS):
        scores = root / folder.name / "scores.csv"
        if folder.name in taken or not scores.is_file():
            continue
        if clips & set(pd.read_csv(scores, usecols=["path"])["path"]):
            found.append(solution.load(folder))
    return found


class ClipBrowser:
    """Widgets and panels over the last test run of one or more solutions (by folder name or Solution).

    The solution box offers the given solutions; the comparison box also every other solution
    with a test run on the same clips under `result_root` (:func:`runs_to_compare`).
    """

    def __init__(self, solutions, result_root=None, threshold: float | None = None):
        loaded = _as_solutions(solutions)
        if not loaded:
            raise ToolkitError("ClipBrowser needs at least one solution")
        names = [s.run_name for s in loaded]
        self.solutions = {s.run_name: s for s in loaded + runs_to_compare(loaded, result_root)}
        self.result_root = result_root
        self.threshold = threshold
        self.scores = {name: read_scores_table(s.result_dir(result_root)) for name, s in self.solutions.items()}
        self._models: dict[tuple[str, str], object] = {}
        first = self.scores[names[0]]
        self.solution_box = w.Dropdown(options=names, description="solution")
        self.compare_box = w.Dropdown(options=["(none)"] + list(self.solutions), description="compare with")
        self.type_box = w.Dropdown(options=list(dict.fromkeys(first["machine_type"])), description="type")
        named_by_id = not len(first) or layout.group_word(str(first["file_name"].iloc[0])) == "id"
        self.id_box = w.Dropdown(description="ID" if named_by_id else "section")
        self.label_box = w.Dropdown(options=list(LABEL_CHOICES), description="label")
        self.order_box = w.Dropdown(options=list(ORDERS), description="order")
        self.clip_box = w.Dropdown(description="clip", layout=w.Layout(width="460px"))
        self.output = w.Output()
        self.figure = None
        self._quiet = False
        self._refresh_ids()  # draws the first panels
        self.type_box.observe(lambda _: self._refresh_ids(), names="value")
        for box in (self.solution_box, self.id_box, self.label_box, self.order_box):
            box.observe(lambda _: self._quiet or self._refresh_clips(), names="value")
        for box in (self.clip_box, self.compare_box):
            box.observe(lambda _: self._quiet or self.render(), names="value")

    # ---------------------------------------------------------------- selection
    def _table(self) -> pd.DataFrame:
        return self.scores[self.solution_box.value]

    def _refresh_ids(self) -> None:
        table = self._table()
        ids = sorted(table.loc[table["machine_type"] == self.type_box.value, "section"].unique())
        self._quiet = True
        try:
            self.id_box.options = ["all"] + ids
            self.id_box.value = "all"
        finally:
            self._quiet = False
        self._refresh_clips()

    def candidates(self) -> pd.DataFrame:
        """The clips matching the current type, ID and label, in the chosen order."""
        table = self._table()
        rows = table[table["machine_type"] == self.type_box.value]
        if self.id_box.value not in (None, "all"):
            rows = rows[rows["section"] == self.id_box.value]
        label = LABEL_CHOICES[self.label_box.value]
        order = ORDERS[self.order_box.value]
        if order is not None and order[0] is not None:
            label = order[0]
        if label is not None:
            rows = rows[rows["label"] == label]
        if order is None:
            return rows.sort_values("file_name")
        return rows.sort_values("score", ascending=order[1])

    def _refresh_clips(self) -> None:
        rows = self.candidates()
        options = [(f"{r.file_name}  (score {r.score:.2f})", r.path) for r in rows.itertuples()]
        self._quiet = True  # render once, below, not on each of these changes
        try:
            self.clip_box.options = options
            self.clip_box.value = options[0][1] if options else None
        finally:
            self._quiet = False
        self.render()

    @property
    def current_clip(self) -> pd.Series | None:
        """The selected clip's row of the scores table."""
        if self.clip_box.value is None:
            return None
        table = self._table()
        match = table[table["path"] == self.clip_box.value]
        return match.iloc[0] if len(match) else None

    # ---------------------------------------------------------------- panels
    def _threshold(self, name: str, clip: pd.Series) -> float | None:
        if self.threshold is not None:
            return self.threshold
        return self._model(name, clip.machine_type).threshold(clip.machine_type, clip.section)

    def _model(self, name: str, machine_type: str):
        key = (name, machine_type)
        if key not in self._models:
            self._models[key] = pipeline.load_detector(self.solutions[name], machine_type, self.result_root)
        return self._models[key]

    def panels(self) -> Figure | None:
        """The figure for the current selection: per solution, its panels, the score over time, the score position.

        A figure outside pyplot: in JupyterLab widget messages are handled on a kernel subshell
        whose post-execute hook closes pyplot's figures, which left half-drawn (blank) panels.
        """
        clip = self.current_clip
        if clip is None:
            return None
        shown = [self.solution_box.value]
        other = self.compare_box.value
        if other not in ("(none)", self.solution_box.value) and (self.scores[other]["path"] == clip.path).any():
            shown.append(other)  # a compared run that did not score this clip has nothing to show
        figure = Figure(figsize=(15, 5.6 * len(shown)), layout="constrained")
        grids = figure.add_gridspec(2 * len(shown), 3, height_ratios=[1.1, 1] * len(shown))
        label = {0: "normal", 1: "anomaly"}.get(clip.label, "unknown")
        for row, name in enumerate(shown):
            sol = self.solutions[name]
            view = inspection.view_clip(sol, self._model(name, clip.machine_type), clip.path, clip.section,
                                        clip.machine_type)
            if view is None:
                continue
            images = [figure.add_subplot(grids[2 * row, col]) for col in range(3)]
            plots.clip_panels(view, sol.features, images,
                              title=f"{name} · {clip.machine_type} "
                                    f"{layout.group_title(clip.file_name, clip.section, clip.domain)} · {label}\n{clip.file_name}")
            plots.item_scores_over_time(view.item_times, view.item_scores, ax=figure.add_subplot(grids[2 * row + 1, :2]),
                                        colour=plots.LABEL_COLOURS[label], ylabel=view.score_label,
                                        title=f"{name}: score over time")
            id_scores = self.scores[name]
            id_scores = id_scores[(id_scores["machine_type"] == clip.machine_type) & (id_scores["section"] == clip.section)]
            plots.score_position(id_scores, view.score, ax=figure.add_subplot(grids[2 * row + 1, 2]),
                                 threshold=self._threshold(name, clip),
                                 title=f"{name}: score among {layout.group_word(clip.file_name)} {clip.section}",
                                 xlabel=view.score_label)
        self.figure = figure
        return figure

    def render(self) -> None:
        self.output.clear_output(wait=True)
        with self.output:
            figure = self.panels()
            if figure is None:
                print("no clip matches this selection")
                return
            display(Audio(filename=self.clip_box.value))
            display(figure)

    def show(self) -> w.VBox:
        """The browser as one widget (display it, or leave it as a cell's last line)."""
        controls = w.VBox([w.HBox([self.solution_box, self.compare_box]),
                           w.HBox([self.type_box, self.id_box, self.label_box]),
                           w.HBox([self.order_box, self.clip_box])])
        return w.VBox([controls, self.output])
