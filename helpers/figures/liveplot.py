"""A loss-curve figure that redraws in the notebook after every epoch while training runs.

In a person's frontend (helpers.frontend.live_frontend) the figure redraws after each epoch. In
a headless kernel (papermill) nobody watches it: it is drawn once, when training ends, so that
the executed notebook holds the final curves without rendering an image every epoch. Outside
IPython (scripts, tests) nothing is displayed; the figure can still be saved.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from helpers import frontend
from helpers.figures import plots


def history_frame(rows: list[dict]) -> pd.DataFrame:
    """Per-epoch rows as a table whose first columns are epoch, loss and (if present) val_loss."""
    frame = pd.DataFrame(rows)
    columns = ["epoch", "loss"] + (["val_loss"] if "val_loss" in frame else [])
    return frame[columns + [c for c in frame.columns if c not in columns]]


class LossDisplay:
    """Training and validation loss curves of one model: :meth:`update` after each epoch, :meth:`close` at the end."""

    def __init__(self, title: str, live: bool = True):
        self.title = title
        self.figure, self.ax = plt.subplots(figsize=(6.5, 3.2), layout="constrained")
        self.history: pd.DataFrame | None = None
        self.shown = live and frontend.in_kernel()
        self.handle = None
        if self.shown and frontend.live_frontend():
            from IPython.display import display

            self.handle = display(self.figure, display_id=True)

    def _draw(self) -> None:
        self.ax.clear()
        plots.loss_curves(self.history, ax=self.ax, title=self.title)

    def update(self, history: pd.DataFrame) -> None:
        """The curves so far, from a history with columns epoch, loss and (optionally) val_loss;
        redrawn at once in a live frontend."""
        self.history = history
        if self.handle is not None:
            self._draw()
            self.handle.update(self.figure)

    def close(self, path: str | Path | None = None) -> None:
        """Draw the last history, show it (a headless kernel's one display of it), save it to `path`
        (if given) and release the figure."""
        if self.history is not None:
            self._draw()
        if self.handle is not None:
            self.handle.update(self.figure)
        elif self.shown:
            from IPython.display import display

            display(self.figure)
        if path is not None:
            plots.save(self.figure, path)
        plt.close(self.figure)
