"""A loss-curve figure that redraws in the notebook after every epoch while training runs.

Outside IPython (scripts, tests) nothing is displayed; the figure can still be saved.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from helpers import frontend, plots


def history_frame(rows: list[dict]) -> pd.DataFrame:
    """Per-epoch rows as a table whose first columns are epoch, loss and (if present) val_loss."""
    frame = pd.DataFrame(rows)
    columns = ["epoch", "loss"] + (["val_loss"] if "val_loss" in frame else [])
    return frame[columns + [c for c in frame.columns if c not in columns]]


class LossDisplay:
    """Live training and validation loss curves of one model. Call :meth:`update` each epoch."""

    def __init__(self, title: str, live: bool = True):
        self.title = title
        self.figure, self.ax = plt.subplots(figsize=(6.5, 3.2), layout="constrained")
        self.handle = None
        if live and frontend.in_kernel():
            from IPython.display import display

            self.handle = display(self.figure, display_id=True)

    def update(self, history: pd.DataFrame) -> None:
        """Redraw from a history with columns epoch, loss and (optionally) val_loss."""
        self.ax.clear()
        plots.loss_curves(history, ax=self.ax, title=self.title)
        if self.handle is not None:
            self.handle.update(self.figure)

    def close(self, path: str | Path | None = None) -> None:
        """Save the final figure to `path` (if given) and release it."""
        if path is not None:
            plots.save(self.figure, path)
        plt.close(self.figure)
