"""Figures in one consistent style. Every function draws on an `ax` it is given (or a new one),
returns the ax, and saves nothing unless :func:`save` is called.

Spectrogram axes are in seconds and Hz, colour bars in dB.
"""
from __future__ import annotations

import textwrap

from pathlib import Path

import librosa.display
import matplotlib.pyplot as plt
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator, NullFormatter, ScalarFormatter
import numpy as np
import pandas as pd

from helpers.data.editions import Rules
from helpers.data.features import FeatureSettings

LABEL_COLOURS = {"normal": "#2a7ab0", "anomaly": "#d1495b", "unknown": "#7f7f7f"}
DOMAIN_COLOURS = {"source": "#2a7ab0", "target": "#e09f3e"}
SOURCE_COLOURS = {"real": "#444444", "synthetic": "#e09f3e"}
STYLE = {
    "figure.dpi": 110, "savefig.dpi": 150, "savefig.bbox": "tight",
    "axes.grid": True, "grid.alpha": 0.25, "axes.spines.top": False, "axes.spines.right": False,
    "axes.titlesize": 11, "axes.labelsize": 10, "legend.frameon": False, "image.cmap": "magma",
}


def use_style() -> None:
    """Apply the project's matplotlib style (call once per notebook)."""
    plt.rcParams.update(STYLE)


def _axes(ax, figsize=(7, 3.5)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _label(ax, xlabel: str | None, ylabel: str, title: str | None, legend: dict | None = None):
    """Axis labels, a legend (with these keyword arguments; None for none) and an optional title."""
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if legend is not None:
        ax.legend(**legend)
    if title:
        ax.set_title(title)
    return ax


def save(ax_or_fig, path: str | Path) -> Path:
    """Save the figure holding `ax_or_fig` to `path` (PNG, PDF, SVG by suffix)."""
    figure = ax_or_fig if isinstance(ax_or_fig, plt.Figure) else ax_or_fig.figure
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path


def log_mel_image(logmel: np.ndarray, settings: FeatureSettings = FeatureSettings(), ax=None,
                  title: str | None = None, vmin: float | None = None, vmax: float | None = None,
                  colorbar: bool = True, cmap: str | None = None, label: str = "dB"):
    """A log-mel spectrogram [shape=(n_mels, frames)] with time in seconds and mel-spaced Hz."""
    ax = _axes(ax)
    image = librosa.display.specshow(
        logmel, sr=settings.sample_rate, hop_length=settings.hop_length, n_fft=settings.n_fft,
        x_axis="time", y_axis="mel", ax=ax, vmin=vmin, vmax=vmax, cmap=cmap or plt.rcParams["image.cmap"],
    )
    _label(ax, "time [s]", "frequency [Hz]", title)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, format="%+.0f", label=label)
    return ax


def mel_frequencies(settings: FeatureSettings = FeatureSettings()) -> np.ndarray:
    """Centre frequency in Hz of each mel band. [shape=(n_mels,)]"""
    return librosa.mel_frequencies(n_mels=settings.n_mels + 2, fmax=settings.sample_rate / 2)[1:-1]


def mean_spectra(spectra: dict[str, np.ndarray], settings: FeatureSettings = FeatureSettings(),
                 ax=None, title: str | None = None):
    """Mean log-mel spectra {label: [shape=(n_mels,)]} over frequency (log scale, Hz)."""
    ax = _axes(ax)
    freqs = mel_frequencies(settings)
    for label, spectrum in spectra.items():
        ax.plot(freqs, spectrum, label=label, color=LABEL_COLOURS.get(label, DOMAIN_COLOURS.get(label)), lw=1.4)
    ax.set_xscale("log")
    return _label(ax, "frequency [Hz]", "mean log-mel [dB]", title, legend={})


def clip_counts_bars(counts: pd.DataFrame, ax=None):
    """Clip counts per machine type, stacked by split and label (from catalog.clip_counts)."""
    ax = _axes(ax, figsize=(8, 3.5))
    counts = counts.assign(group=counts["split"] + " / " + counts["label"])
    pivot = counts.pivot_table(index="machine_type", columns="group", values="clips", aggfunc="sum", fill_value=0)
    colours = {"train / normal": "#9ecae1", "test / normal": LABEL_COLOURS["normal"],
               "test / anomaly": LABEL_COLOURS["anomaly"], "test / unknown": LABEL_COLOURS["unknown"]}
    pivot.plot.bar(stacked=True, ax=ax, color=[colours.get(c, "#bbbbbb") for c in pivot.columns], rot=0)
    ax.set_xlabel("")
    ax.set_ylabel("clips")
    ax.set_title("Clips per machine type")
    return ax


def domain_counts_bars(counts: pd.DataFrame, ax=None):
    """Training clips per machine type and section, source against target domain, on a log scale
    (from catalog.clip_counts; the target domain has a handful where the source has hundreds)."""
    ax = _axes(ax, figsize=(9, 3.5))
    train = counts[counts["split"] == "train"].assign(group=lambda c: c["machine_type"] + "\n" + c["section"])
    pivot = train.pivot_table(index="group", columns="domain", values="clips", aggfunc="sum", fill_value=0, sort=False)
    pivot.plot.bar(ax=ax, rot=0, color=[DOMAIN_COLOURS.get(d, "#bbbbbb") for d in pivot.columns], width=0.8)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.tick_params(axis="x", labelsize=8)
    return _label(ax, "", "training clips", "Training clips per section and domain", legend={})


def stat_strip(stats: pd.DataFrame, column: str, ax=None, title: str | None = None):
    """One clip statistic per machine type, real against synthetic clips as dots.

    `stats` has columns machine_type, source (real/synthetic) and `column`.
    """
    ax = _axes(ax, figsize=(6, 3))
    types = list(dict.fromkeys(stats["machine_type"]))
    for offset, source in ((-0.15, "real"), (0.15, "synthetic")):
        part = stats[stats["source"] == source]
        x = np.array([types.index(t) for t in part["machine_type"]]) + offset
        ax.scatter(x, part[column], s=18, alpha=0.8, label=source, color=SOURCE_COLOURS[source])
    ax.set_xticks(range(len(types)), types)
    return _label(ax, None, column, title, legend={})


def loss_curves(history: pd.DataFrame, ax=None, title: str | None = None):
    """Training (and validation) loss per epoch, log-scaled when the loss spans a decade or more."""
    ax = _axes(ax, figsize=(6.5, 3.2))
    ax.plot(history["epoch"], history["loss"], label="training", color="#2a7ab0", lw=1.6)
    if "val_loss" in history and history["val_loss"].notna().any():
        ax.plot(history["epoch"], history["val_loss"], label="validation", color="#d1495b", lw=1.6)
    values = history[[c for c in ("loss", "val_loss") if c in history]].to_numpy().ravel()
    values = values[values == values]
    if len(values) and values.min() > 0 and values.max() / values.min() >= 10:
        ax.set_yscale("log")
    return _label(ax, "epoch", "loss", title, legend={})


def roc_curves(scores: pd.DataFrame, rules: Rules, ax=None, title: str | None = None):
    """ROC curves from one machine type's clip scores [columns=section, domain, label, score], AUC in
    the legend: one per group of the edition's rules (rules.roc_groups: 2020 per machine ID, later per
    section and domain, over the clips its AUC ranks), one colour per section, source solid and target
    dashed. Unlabelled clips, groups without both labels and groups with an unscored clip (whose AUC
    is undefined: a clip of a class the network does not know) are left out.
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    ax = _axes(ax, figsize=(4.2, 4))
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    colours: dict[str, str] = {}
    for name, section, group in rules.roc_groups(scores):
        labels = group["label"].astype(int)
        if labels.nunique() < 2 or not np.isfinite(group["score"].to_numpy(dtype=np.float64)).all():
            continue
        fpr, tpr, _ = roc_curve(labels, group["score"])
        colour = colours.setdefault(section, cycle[len(colours) % len(cycle)])
        ax.plot(fpr, tpr, lw=1.5, ls="--" if name.endswith("target") else "-", color=colour,
                label=f"{name} (AUC {roc_auc_score(labels, group['score']):.3f})")
    ax.plot([0, 1], [0, 1], color="#999999", lw=0.8, ls="--")
    ax.axvspan(0, 0.1, color="#cccccc", alpha=0.3, lw=0, label="pAUC range (FPR ≤ 0.1)")
    ax.set_aspect("equal")
    return _label(ax, "false positive rate", "true positive rate", title, legend={"fontsize": 8, "loc": "lower right"})


def score_histograms(scores: pd.DataFrame, ax=None, title: str | None = None, bins: int = 30,
                     xlabel: str = "anomaly score", thresholds: dict[str, float] | None = None):
    """Distributions of anomaly scores of normal against anomalous clips (and unlabelled eval clips) [columns=label, score].

    `xlabel`: what the score is (helpers.detectors.scoring.SCORE_LABELS); `thresholds`: {section: decision
    threshold}, each drawn as a dashed line (one legend entry). Clips without a score (NaN: of a class
    the network does not know) are counted in the legend, not drawn."""
    ax = _axes(ax, figsize=(5, 3.2))
    scored = np.isfinite(scores["score"].to_numpy(dtype=np.float64))
    unscored, scores = int((~scored).sum()), scores[scored]
    edges = np.histogram_bin_edges(scores["score"], bins=bins)
    labels = scores["label"]
    for part_of, name, shown in ((labels == 0, "normal", "normal"), (labels == 1, "anomaly", "anomaly"),
                                 (labels.isna(), "unknown", "unlabelled")):
        part = scores.loc[part_of, "score"]
        if len(part):
            ax.hist(part, bins=edges, alpha=0.6, color=LABEL_COLOURS[name], label=f"{shown} ({len(part)})")
    if unscored:
        ax.plot([], [], " ", label=f"no score ({unscored})")
    for i, (section, value) in enumerate(sorted((thresholds or {}).items())):
        ax.axvline(value, color="#333333", lw=1.2, ls="--",
                   label=f"decision threshold{'s' if len(thresholds) > 1 else ''}" if i == 0 else None)
    ax.xaxis.set_major_locator(MaxNLocator(5))  # long tick labels (scores close together) would overlap
    return _label(ax, xlabel, "clips", title, legend={})


def item_scores_over_time(times: np.ndarray, scores: np.ndarray, ax=None, label: str | None = None,
                          colour: str | None = None, title: str | None = None, ylabel: str = "anomaly score"):
    """Each item's score against its time in the clip, the clip score (their mean) dashed.

    `ylabel`: what the score is (helpers.detectors.scoring.SCORE_LABELS)."""
    ax = _axes(ax, figsize=(7, 2.6))
    line, = ax.plot(times, scores, lw=1.2, label=label, color=colour)
    ax.axhline(float(np.mean(scores)), color=line.get_color(), lw=0.8, ls="--")
    return _label(ax, "time [s]", ylabel, title, legend={} if label else None)


def id_colours(ids) -> dict:
    """One colour per machine ID, by its place among the sorted IDs: the same ID is drawn alike in
    every figure of a machine type (ID probabilities, their means, the embedding map)."""
    return {section: plt.get_cmap("tab10")(i % 10) for i, section in enumerate(sorted(set(ids)))}


def group_name(word: str) -> str:
    """What a group of clips is called in a title or a legend's heading: "machine ID" for the word
    "id" (2020), else the word ("section")."""
    return "machine ID" if word == "id" else word


def id_probabilities(view, ax=None, title: str | None = None):
    """The probability of each machine ID (section, after 2020: view.group_word) over the clip's time
    (the clip's own drawn thick); the legend beside the axes, where no line runs."""
    ax = _axes(ax, figsize=(7, 2.6))
    colours = id_colours(view.classes)
    for section, probability in zip(view.classes, view.id_probabilities):
        own = section == view.own_class
        ax.plot(view.item_times, probability, lw=2.2 if own else 1.0, alpha=1.0 if own else 0.7,
                color=colours[section], label=f"{view.group_word} {section}" + (" (its own)" if own else ""))
    ax.set_ylim(-0.02, 1.02)
    beside = {"fontsize": 7, "loc": "upper left", "bbox_to_anchor": (1.0, 1.0), "handlelength": 1.2, "borderaxespad": 0.2}
    return _label(ax, "time [s]", f"p({view.group_word})", title, legend=beside)


def mean_id_probabilities(view, ax=None, title: str | None = None):
    """The clip's mean probability of each machine ID in its colour (id_colours), its own ID
    opaque and edged, the others faint; long class names (sections with attributes) slanted."""
    ax = _axes(ax, figsize=(4, 2.6))
    means = view.id_probabilities.mean(axis=1)
    colours = id_colours(view.classes)
    names = [f"{view.group_word} {c}" for c in view.classes]
    bars = ax.bar(range(len(names)), means, color=[colours[c] for c in view.classes])
    slanted = sum(map(len, names)) > 40
    ax.set_xticks(range(len(names)), names, rotation=30 if slanted else 0, ha="right" if slanted else "center",
                  fontsize=7 if slanted else None)
    for bar, section in zip(bars, view.classes):
        own = section == view.own_class
        bar.set_alpha(1.0 if own else 0.35)
        bar.set_edgecolor("black" if own else "none")
    ax.set_ylim(0, 1)
    return _label(ax, None, f"mean p({view.group_word})", title)


def embedding_image(view, ax=None, title: str | None = None):
    """A frozen network's embedding of each block of a clip over time [view.embeddings, shape=(dims, blocks)],
    one column per block at its time."""
    ax = _axes(ax, figsize=(5, 2.6))
    times = np.asarray(view.item_times, dtype=np.float64)
    half = (times[1] - times[0]) / 2 if len(times) > 1 else 0.5
    image = ax.imshow(view.embeddings, aspect="auto", origin="lower", interpolation="nearest", cmap="viridis",
                      extent=(times[0] - half, times[-1] + half, -0.5, view.embeddings.shape[0] - 0.5))
    plt.colorbar(image, ax=ax, pad=0.01)
    ax.grid(False)
    return _label(ax, "time [s]", "embedding dimension", title)


def clip_panels(view, settings: FeatureSettings, axes, title: str = ""):
    """Three panels of a ClipView: for a reconstruction, the input, the prediction and the error
    (input and prediction on one dB scale); for a machine-ID network, the input, the probability
    of each ID over time and the mean probability per ID; for a frozen network's embeddings, the
    input, each block's score over time and the embeddings."""
    if view.embeddings is not None:
        log_mel_image(view.log_mel, settings, ax=axes[0], title=f"{title} · input")
        item_scores_over_time(view.item_times, view.item_scores, ax=axes[1], ylabel=view.score_label,
                              title=f"score {view.score:.3f}: the mean over its blocks")
        embedding_image(view, ax=axes[2], title="its embeddings")
        return axes
    if view.reconstruction is None:
        log_mel_image(view.log_mel, settings, ax=axes[0], title=f"{title} · input")
        id_probabilities(view, ax=axes[1], title=f"{group_name(view.group_word)} over time")
        mean_id_probabilities(view, ax=axes[2], title=f"score {view.score:.2f} ({view.score_label})")
        return axes
    vmin = float(np.nanmin([view.log_mel.min(), np.nanmin(view.reconstruction)]))
    vmax = float(np.nanmax([view.log_mel.max(), np.nanmax(view.reconstruction)]))
    log_mel_image(view.log_mel, settings, ax=axes[0], vmin=vmin, vmax=vmax, title=f"{title} · input")
    log_mel_image(view.reconstruction, settings, ax=axes[1], vmin=vmin, vmax=vmax, title="reconstruction")
    log_mel_image(view.error, settings, ax=axes[2], vmin=0, vmax=float(np.nanpercentile(view.error, 99.5)),
                  cmap="viridis", label="dB²", title=f"squared error · score {view.score:.2f}")
    return axes


# How each group of clips is drawn on an embedding map: the training clips as a faint background,
# normal test clips hollow, anomalous ones as crosses, unlabelled eval clips as hollow diamonds.
EMBEDDING_GROUPS = {
    "train": {"marker": "o", "s": 16, "alpha": 0.45, "linewidths": 0},
    "normal test": {"marker": "o", "s": 34, "facecolors": "none", "linewidths": 1.2},
    "anomalous test": {"marker": "X", "s": 46, "edgecolors": "black", "linewidths": 0.4},
    "unlabelled test": {"marker": "D", "s": 26, "facecolors": "none", "linewidths": 1.1},
}


def _hollow(style: dict) -> bool:
    return style.get("facecolors") == "none"


def _marker_handle(style: dict, colour, label: str) -> Line2D:
    """A legend entry drawn as scatter `style` draws a point, in `colour`."""
    return Line2D([], [], linestyle="none", marker=style["marker"], markersize=np.sqrt(style["s"]),
                  markerfacecolor="none" if _hollow(style) else colour,
                  markeredgecolor=style.get("edgecolors", colour), markeredgewidth=style["linewidths"],
                  alpha=style.get("alpha"), label=label)


def embedding_map(points: np.ndarray, groups, ids, explained, ax=None, title: str | None = None, word: str = "id"):
    """Clips as points on a 2-D map of their embeddings, coloured by machine ID (section, or another key), marked by group.

    points: [shape=(clips, 2)]; groups: each clip's group, a key of :data:`EMBEDDING_GROUPS`
    [shape=(clips,)]; ids: each clip's machine ID [shape=(clips,)]; explained: the share of the
    variance each axis explains, as fractions [shape=(2,)]; word: what an ID is called ("id" in 2020,
    "section" after; or what the colour keys are, e.g. "attributes · domain", whose keys then
    stand alone in the legend). Two legends beside the axes: the keys (colour) and the groups
    (marker, with their clip counts).
    """
    ax = _axes(ax, figsize=(7.5, 5))
    points, groups, ids = np.asarray(points), np.asarray(groups), np.asarray(ids).astype(str)
    colours = id_colours(ids)
    group_handles = []
    for group, style in EMBEDDING_GROUPS.items():
        chosen = groups == group
        if chosen.any():
            colour = [colours[i] for i in ids[chosen]]
            ax.scatter(points[chosen, 0], points[chosen, 1], **{"edgecolors" if _hollow(style) else "c": colour}, **style)
            group_handles.append(_marker_handle(style, "#555555", f"{group} ({int(chosen.sum())})"))
    def named(key: str) -> str:  # other keys (attributes, with domains) name themselves, wrapped beside the axes
        return f"{word} {key}" if word in ("id", "section") else textwrap.fill(key.replace("_", " "), 18)

    id_handles = [Line2D([], [], linestyle="none", marker="s", markersize=7, color=colour, label=named(section))
                  for section, colour in colours.items()]
    ax.add_artist(ax.legend(handles=id_handles, title=group_name(word), loc="upper left", bbox_to_anchor=(1.01, 1.0),
                            fontsize=8, title_fontsize=9))
    ax.legend(handles=group_handles, title="clips", loc="lower left", bbox_to_anchor=(1.01, 0.0),
              fontsize=8, title_fontsize=9)
    return _label(ax, f"PC 1 ({100 * explained[0]:.1f} % of the variance)",
                  f"PC 2 ({100 * explained[1]:.1f} % of the variance)", title)


UNDEFINED = "undefined"  # what a bar says where its figure is NaN (a group without normal or anomalous test clips)
BAR_LEGEND = {"fontsize": 8, "loc": "upper left", "bbox_to_anchor": (1.0, 1.0)}  # beside the bars, never on them


def _solution_bars(pivot: pd.DataFrame, ax, errors: pd.DataFrame | None = None) -> list[Patch]:
    """Grouped bars of `pivot` [index: groups, columns: solutions], one colour per solution, with
    error bars of `errors` (the same shape: each figure's standard deviation over seeds; NaN: none);
    where a figure is undefined (NaN) no bar but the word UNDEFINED stands at its place, so that a
    group whose every figure is undefined is drawn too. Returns the legend's handles, one per solution."""
    width = 0.8 / max(len(pivot.columns), 1)
    positions = np.arange(len(pivot))
    colours, handles = plt.rcParams["axes.prop_cycle"].by_key()["color"], []
    for column, solution in enumerate(pivot.columns):
        places = positions - 0.4 + width * (column + 0.5)
        values = pivot[solution].to_numpy(dtype=np.float64)
        defined = np.isfinite(values)
        colour = colours[column % len(colours)]
        spread = None if errors is None else errors[solution].to_numpy(dtype=np.float64)[defined]
        ax.bar(places[defined], values[defined], width, color=colour,
               yerr=spread, error_kw={"elinewidth": 1, "capsize": 2, "ecolor": "#333333"})
        handles.append(Patch(color=colour, label=solution))  # also for a solution without a defined figure
        for place in places[~defined]:
            ax.text(place, 0.02, UNDEFINED, rotation=90, ha="center", va="bottom", fontsize=7, color=colour)
    ax.set_xticks(positions, [str(i) for i in pivot.index])
    ax.set_xlim(-0.5, len(pivot) - 0.5)
    return handles


def _spread(table: pd.DataFrame, index: str, errors: str | None) -> pd.DataFrame | None:
    if errors is None or errors not in table:
        return None
    return table.pivot_table(index=index, columns="solution", values=errors, sort=False, dropna=False)


def metric_bars(table: pd.DataFrame, metric: str = "AUC", ax=None, title: str | None = None, errors: str | None = None):
    """One bar per (machine type, solution) from rows [columns=machine_type, solution, <metric>,
    optionally <errors>: the standard deviation over seeds, drawn as error bars]; an undefined
    figure is marked, not left out."""
    ax = _axes(ax, figsize=(9, 3.4))
    pivot = table.pivot_table(index="machine_type", columns="solution", values=metric, sort=False, dropna=False)
    handles = _solution_bars(pivot, ax, _spread(table, "machine_type", errors))
    ax.axhline(0.5, color="#999999", lw=0.8, ls="--")
    ax.set_ylim(0, 1)
    return _label(ax, "", metric, title, legend={**BAR_LEGEND, "handles": handles})


def ranked_bars(rows: pd.DataFrame, ax=None, title: str | None = None):
    """One bar per (group, figure) and solution from collected figures
    [columns=solution, section, domain, metric, value, optionally sd] (helpers.experiments.results.collect_results
    or over_seeds, whose sd over seeds is drawn as error bars); an undefined figure is marked, not left out."""
    rows = rows.assign(group=(rows["section"] + " " + rows["domain"]).str.strip() + "\n" + rows["metric"])
    pivot = rows.pivot_table(index="group", columns="solution", values="value", sort=False, dropna=False)
    ax = _axes(ax, figsize=(max(6.0, 0.9 * len(pivot) + 2), 3.4))
    handles = _solution_bars(pivot, ax, _spread(rows, "group", "sd"))
    ax.axhline(0.5, color="#999999", lw=0.8, ls="--")
    ax.set_ylim(0, 1)
    ax.tick_params(axis="x", labelsize=8)
    return _label(ax, "", "AUC / pAUC", title, legend={**BAR_LEGEND, "handles": handles})


def score_position(scores: pd.DataFrame, score: float, ax=None, threshold: float | None = None,
                   title: str | None = None, bins: int = 30, xlabel: str = "anomaly score"):
    """Where one clip's score sits among the test scores of its ID [columns=label, score]; `xlabel` as in score_histograms."""
    ax = score_histograms(scores, ax=ax, title=title, bins=bins, xlabel=xlabel)
    ax.axvline(score, color="black", lw=2, label=f"this clip ({score:.2f})")
    if threshold is not None:
        ax.axvline(threshold, color="#555555", lw=1, ls="--", label=f"threshold ({threshold:.2f})")
    ax.legend(fontsize=8)
    return ax
