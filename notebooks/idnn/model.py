"""The interpolation DNN (IDNN; Suefusa et al., "Anomalous sound detection based on interpolation
deep neural network", ICASSP 2020) in PyTorch.

The network sees the log-mel frames around a middle frame with that frame removed (inputs.kind
``context``: with features.frames = 5, frames t-2, t-1, t+1, t+2 stacked frame-major,
[shape=(batch, n_mels * 4)]) and predicts the removed frame [shape=(batch, n_mels)]. Its anomaly
score is the squared error of that prediction (the interpolation error), averaged over the
clip's frames; the paper's point is that the edge frames an autoencoder must reproduce, which
vary most in non-stationary sounds, are no longer predicted.

Architecture: a dense encoder-decoder in the paper's spirit, 512→64→32→16→32→64→128 for
128 mels (the hidden widths are the ``hidden`` setting), every hidden Dense followed by
BatchNorm and ReLU, a linear output in dB. The widths 64-32-16 and their mirror are those of a
public IDNN reimplementation (checked against it, not against the paper's own table); BatchNorm
after every hidden layer follows this project's baseline port (notebooks/pytorch). Inputs are
raw log-mel dB, as the baseline's; PyTorch's default initialisation.
"""
from torch import nn

from helpers.errors import ConfigError


class InterpolationNetwork(nn.Module):
    """Predicts the middle frame from its context. [shape=(batch, context_dims)] -> [shape=(batch, n_mels)]"""

    def __init__(self, context_dims: int, n_mels: int, hidden: list[int]):
        super().__init__()
        widths = [context_dims, *hidden]
        blocks = [module for n_in, n_out in zip(widths[:-1], widths[1:])
                  for module in (nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out), nn.ReLU())]
        self.layers = nn.Sequential(*blocks, nn.Linear(widths[-1], n_mels))

    def forward(self, x):
        return self.layers(x)


def build_model(input_shape, target_shape, hidden=(64, 32, 16, 32, 64)) -> nn.Module:
    """The IDNN for context vectors of `input_shape` = (n_mels * (frames - 1),) and middle frames
    of `target_shape` = (n_mels,) (both given by the pipeline from config.yaml's features)."""
    (context_dims,), (n_mels,) = input_shape, target_shape
    if not hidden or any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in hidden):
        raise ConfigError(f"setting 'model.hidden' must be a non-empty list of positive integers "
                          f"(hidden layer widths), got {hidden!r}")
    return InterpolationNetwork(context_dims, n_mels, list(hidden))
