"""Frozen pretrained audio networks as embedding extractors, loaded offline and safely.

An extractor maps one clip's waveform, read at its own sample rate, to embeddings of fixed-length
blocks [shape=(blocks, dims)]; a solution scores those with a density back end (kNN, Mahalanobis,
GMM), no network is trained. Embeddings are a function of the clip and the checkpoint only, so
they are cached like log-mels (helpers.data.featurecache.derived_arrays, under :attr:`Extractor.identity`).

Where the extractor comes from (config.yaml ``inputs.extractor``, ``inputs.checkpoint``):

- ``aisfx`` (default): the 9-layer CNN of Ma and Lerch, "Representation learning for the automatic
  indexing of sound effects libraries" (ISMIR 2022), 4.7 M parameters, 512-d embeddings of 2.3-s
  blocks (100 frames of a 96-band mel spectrogram at 44.1 kHz), a block every 1.2 s. Its weights ship inside the
  ``aisfx`` wheel (CC BY 4.0), installed without its dependencies (the Makefile); this module builds
  the network and its spectrogram itself and imports nothing of the package. ``inputs.checkpoint``
  may name another copy of the same file.
- a Python file ``<name>.py`` (any other model a user has: BEATs, EAT, ...): it defines
  ``build_extractor(checkpoint: Path | None) -> Extractor``; ``inputs.checkpoint`` is its weights,
  which it loads with :func:`load_checkpoint`.

Nothing is downloaded, ever: a missing checkpoint is a ConfigError saying where it was looked for and
what to install or point at. :func:`load_checkpoint` never unpickles arbitrary objects: torch's
weights-only unpickler with an allow-list of the few NumPy globals old checkpoints hold.
"""
from __future__ import annotations

import hashlib
import importlib.util
import pickle
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

from helpers.data.featurecache import Derived
from helpers.errors import ConfigError, ToolkitError

AISFX_PACKAGE_FILE = ("models", "checkpoint.pth")  # the checkpoint's place inside the installed aisfx package
INSTALL_AISFX = "pip install --no-deps aisfx==0.1.2 (the Makefile's set-up does it)"


@dataclass(frozen=True)
class Extractor:
    """A frozen network that maps a clip to embeddings of its blocks.

    name: what it is called in messages; identity: a key that changes whenever its embeddings could
    (checkpoint digest and settings; the feature cache's key); sample_rate: the rate its waveform is
    read at; dims: the embedding's dimensions; block_seconds, hop_seconds: the length of one block
    and the time between blocks; embed: waveform [shape=(samples,)] -> embeddings
    [shape=(blocks, dims)], float32, at least one block for any clip.
    """

    name: str
    identity: str
    sample_rate: int
    dims: int
    block_seconds: float
    hop_seconds: float
    embed: Callable[[np.ndarray], np.ndarray] = field(compare=False, repr=False)

    def derived(self) -> Derived:
        """What the feature cache computes and keeps of each clip: its embeddings."""
        return Derived((("embedding", self.identity),), self.embed, self.sample_rate, in_processes=False)


def _allowed_globals() -> list:
    """The globals a weights-only load may build beyond torch's own: NumPy scalars and dtypes, as
    checkpoints written with NumPy 1 name them (aisfx's holds its training sets' class counts)."""
    import codecs

    from numpy._core.multiarray import scalar

    return [(scalar, "numpy.core.multiarray.scalar"), scalar, np.dtype, codecs.encode,
            *(getattr(np.dtypes, name) for name in ("Int64DType", "Int32DType", "Float64DType", "Float32DType"))]


def load_checkpoint(path: str | Path):
    """What a torch checkpoint holds (tensors, dicts, lists, numbers), loaded on the CPU with torch's
    weights-only unpickler: no code in the file runs. ToolkitError naming the file and the refused
    global when it holds any other object; ConfigError when there is no such file."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no checkpoint at {path}")
    try:
        with torch.serialization.safe_globals(_allowed_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        named = re.search(r"GLOBAL ([\w.]+)", str(err))
        refused = f"the global {named[1]}" if named else "an object"
        raise ToolkitError(f"refused to load {path}: it holds {refused}, which is not a tensor, a number or a "
                           f"container of them, and loading it could run code; use a checkpoint of weights only "
                           f"(torch.save(model.state_dict(), ...))") from None
    except (RuntimeError, EOFError, OSError) as err:
        raise ToolkitError(f"cannot read the checkpoint {path}: {err}") from None


def _digest(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()[:16]


def aisfx_checkpoint() -> Path:
    """The checkpoint inside the installed aisfx package (found without importing it); ConfigError
    saying how to install it when it is not there."""
    spec = importlib.util.find_spec("aisfx")
    path = Path(spec.submodule_search_locations[0]).joinpath(*AISFX_PACKAGE_FILE) if spec else None
    if path is None or not path.is_file():
        raise ConfigError(f"inputs.extractor 'aisfx' needs the aisfx package's checkpoint, not found "
                          f"({'no aisfx package' if spec is None else path}); install it with {INSTALL_AISFX}, "
                          f"or set inputs.checkpoint to a copy of its models/checkpoint.pth")
    return path


# -- aisfx ------------------------------------------------------------------------------------------

AISFX_SAMPLE_RATE = 44100
AISFX_MELS, AISFX_FFT, AISFX_HOP = 96, 2048, 1024
AISFX_BLOCK, AISFX_BLOCK_HOP = 100, 50  # frames of one block (about 2.3 s) and between blocks
AISFX_LOG_MAX = 9.457798957824707  # log10(1 + 1e4 * mel power) is divided by this, the paper's training maximum
AISFX_CHANNELS = (64, 128, 256, 512)


def aisfx_spectrogram(y: np.ndarray) -> np.ndarray:
    """The aisfx network's input of a 44.1 kHz waveform [shape=(samples,)]: the peak-normalised
    waveform's power mel spectrogram (96 HTK bands, 0 to 22.05 kHz, filters of unit sum, 2048-point
    Hann frames every 1024 samples), compressed as log10(1 + 1e4 S) / AISFX_LOG_MAX. [shape=(frames, 96)]"""
    import librosa

    peak = np.max(np.abs(y)) if len(y) else 0.0
    mel = librosa.feature.melspectrogram(y=y / peak if peak > 0 else y, sr=AISFX_SAMPLE_RATE, n_fft=AISFX_FFT,
                                         hop_length=AISFX_HOP, n_mels=AISFX_MELS, fmin=0.0,
                                         fmax=AISFX_SAMPLE_RATE / 2, htk=True, norm=1.0, power=2.0)
    return (np.log10(1.0 + 1e4 * mel) / AISFX_LOG_MAX).T.astype(np.float32)


def blocks(frames: np.ndarray, size: int, hop: int) -> np.ndarray:
    """Blocks of `size` frames every `hop` frames of [shape=(frames, bands)], the last partial block
    dropped unless it is the only one (zero-padded). [shape=(blocks, size, bands)]"""
    count = max(1, (len(frames) - size) // hop + 1)
    padded = np.concatenate([frames, np.zeros((max(0, size - len(frames)), frames.shape[1]), frames.dtype)])
    return np.stack([padded[i * hop:i * hop + size] for i in range(count)])


def aisfx_network():
    """The aisfx embedding network (torch.nn.Module): four blocks of two 3x3 convolutions with batch
    norm and ReLU, 2x2 max pooling after the first three; the mean over frequency, then the maximum
    over time. Input [shape=(batch, frames, 96)], output [shape=(batch, 512)]. Its parameter names
    are the checkpoint's ("conv_block1.conv1.weight", ...), without the "embedding_net." prefix."""
    from torch import nn

    class ConvBlock(nn.Module):
        def __init__(self, channels_in: int, channels_out: int, pool: int):
            super().__init__()
            self.conv1 = nn.Conv2d(channels_in, channels_out, 3, padding=1, bias=False)
            self.conv2 = nn.Conv2d(channels_out, channels_out, 3, padding=1, bias=False)
            self.bn1, self.bn2 = nn.BatchNorm2d(channels_out), nn.BatchNorm2d(channels_out)
            self.pool = nn.MaxPool2d(pool) if pool > 1 else nn.Identity()

        def forward(self, x):
            return self.pool(self.bn2(self.conv2(self.bn1(self.conv1(x)).relu())).relu())

    class AisfxNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            channels = (1, *AISFX_CHANNELS)
            for i in range(4):
                self.add_module(f"conv_block{i + 1}", ConvBlock(channels[i], channels[i + 1], 2 if i < 3 else 1))

        def forward(self, spectrogram):
            x = spectrogram.unsqueeze(1)
            for i in range(4):
                x = getattr(self, f"conv_block{i + 1}")(x)
            return x.mean(dim=3).amax(dim=2)

    return AisfxNetwork()


def aisfx(checkpoint: Path | None) -> Extractor:
    """The aisfx extractor from `checkpoint` (None: the installed package's)."""
    import torch

    path = Path(checkpoint) if checkpoint else aisfx_checkpoint()
    saved = load_checkpoint(path)
    state = saved[0] if isinstance(saved, (tuple, list)) else saved  # the package's file: (weights, its data sets)
    prefix = "embedding_net."
    weights = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    network = aisfx_network().eval()
    try:
        network.load_state_dict(weights)
    except RuntimeError as err:
        raise ConfigError(f"inputs.checkpoint {path} is not an aisfx checkpoint: {str(err).splitlines()[0]}") from None
    network = network.to(memory_format=torch.channels_last)  # oneDNN's convolutions: 1.5 times faster on a CPU

    @torch.no_grad()
    def embed(y: np.ndarray) -> np.ndarray:
        spectrogram = blocks(aisfx_spectrogram(y), AISFX_BLOCK, AISFX_BLOCK_HOP)
        return network(torch.from_numpy(spectrogram)).numpy()

    frame = AISFX_HOP / AISFX_SAMPLE_RATE
    return Extractor("aisfx", f"aisfx:{_digest(path)}", AISFX_SAMPLE_RATE, AISFX_CHANNELS[-1],
                     AISFX_BLOCK * frame, AISFX_BLOCK_HOP * frame, embed)


# -- the registry -----------------------------------------------------------------------------------

EXTRACTORS: dict[str, Callable[[Path | None], Extractor]] = {"aisfx": aisfx}


def _stamp(path: Path | None) -> tuple[int, int] | None:
    stat = path.stat() if path is not None and path.is_file() else None
    return (stat.st_mtime_ns, stat.st_size) if stat else None


def extractor(name: str, checkpoint: str | None = None) -> Extractor:
    """The extractor `name` names (a key of :data:`EXTRACTORS`, or a Python file defining
    ``build_extractor(checkpoint)``) with `checkpoint` (None or "": the extractor's own), loaded once
    per process while its files stay as they are. ConfigError naming the setting."""
    path = Path(checkpoint) if checkpoint else None
    if path is not None and not path.is_file():
        raise ConfigError(f"inputs.checkpoint: no file at {path}; point it at the weights you have (nothing is "
                          f"downloaded), or leave it empty for the extractor's own")
    return _loaded(name, checkpoint or None, _stamp(path), _stamp(Path(name)))


@lru_cache(maxsize=4)
def _loaded(name: str, checkpoint: str | None, *stamps) -> Extractor:
    path = Path(checkpoint) if checkpoint else None
    if name in EXTRACTORS:
        return EXTRACTORS[name](path)
    module_path = Path(name)
    if not name.endswith(".py") or not module_path.is_file():
        raise ConfigError(f"inputs.extractor must be one of {sorted(EXTRACTORS)} or a Python file defining "
                          f"build_extractor(checkpoint) -> helpers.detectors.pretrained.Extractor, got {name!r}")
    spec = importlib.util.spec_from_file_location(f"extractor_{module_path.stem}", module_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not callable(getattr(module, "build_extractor", None)):
        raise ConfigError(f"{module_path} defines no build_extractor(checkpoint); inputs.extractor needs one")
    built = module.build_extractor(path)
    if not isinstance(built, Extractor):
        raise ConfigError(f"{module_path}: build_extractor returned {type(built).__name__}, not an Extractor")
    return built
