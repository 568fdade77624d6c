"""Synthetic DCASE Task 2 datasets in the layout of any edition, 2020 to 2026, with machine sounds
built from how the machines work.

Sound. Each machine type has a sound model (rotating blades, a pump's motor and vanes, a linear
slide's strokes, a solenoid valve's clicks, a toy car's motor and gears, a toy conveyor's belt, a
gearbox's meshing teeth, a rolling bearing, a toy train's motor and rail joints), mixed with
factory background noise at a per-machine signal-to-noise ratio (MIMII mixed factory noise at -6,
0 and 6 dB). The machines of a type (2020 IDs, a later edition's sections) are units of one
product (product_params: one design, one factory): each unit's continuous parameters lie a few per
cent off the design's, and it is mounted its own way (a spectral colouring). Clips of one unit vary
as real recordings do: running speed, load, background mix and level (the CLIP_* and *_DB settings
below), so that two clips of one unit lie about as far apart as two units do (helpers.data.realism
measures it against real clips). Anomalous clips carry one of the faults real machines of that
type have, changing the sound's fine structure more than its mean spectrum.

Editions (`year`, see helpers.data.editions; every root gets ``<out>/.dcase_year`` naming it):

- 2020: ToyCar, ToyConveyor, fan, pump, slider, valve; the development IDs (``normal_id_XX_*.wav``),
  or with eval_layout=True the eval IDs with unlabelled test clips and the ground truth.
- 2021: ToyCar, ToyTrain, fan, gearbox, pump, slider, valve; sections 00-02; training clips of the
  source and (few) of the target domain in ``train/``, test clips in ``source_test/`` and
  ``target_test/``; free-form attributes in the names (``speed_28_noise_A_mic_1``).
- 2022: bearing in place of pump; sections 00-02; every test clip in ``test/``; key-value
  attributes (``vel_28_noise_A_mic_1``, ``spd_31V_noise_B_mic_1``), also listed per section in
  ``<type>/attributes_XX.csv`` (``file_name,d1p,d1v,d2p,d2v,...``).
- 2023, 2025: as 2022 with the one section 00. 2024: as 2023, with the attributes of gearbox,
  slider and ToyTrain hidden (``noAttribute``), as in the real set. 2026: as 2023, the types
  emulated (``<type>Emu``), each rendered by its base type's model.
  The eval layout (hidden labels) is synthesised for 2020 only.

Domain shift (2021 on). Each section's machine runs in two conditions. The source condition is
the machine as drawn. The target condition runs it 1.1-1.25 times faster or slower (every rate of
its sound model scales: shaft, motor, strokes, operations), and changes its background (another
factory; the SNR moved 6 dB, up from the middle of the type's range or below it, down above it),
its microphone (a spectral tilt of 1-2 dB/octave and a resonance), or both. The names carry the
condition's speed (in the type's own unit), background (A: the source's) and microphone (1: the
source's).

Determinism: every random choice comes from a numpy SeedSequence of (seed, [year after 2020,]
type, section, ...), so a seed gives the same bytes whatever the number of workers. A run records
its seed (and, after 2020, its year) in ``<out>/.synth.json``; when the folder already holds files
from the same run and generator version, files of the expected size are kept, which makes
re-running into a complete folder cheap (and resumes an interrupted run). Files are written
atomically (temporary name, then os.replace). Files from another run that do not belong to this
preset are left in place.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf
from scipy import fft
from scipy.signal import fftconvolve
from tqdm.auto import tqdm

from helpers.data import groundtruth
from helpers.data.editions import DOMAINS, EDITIONS, Edition, edition
from helpers.errors import ConfigError
from helpers.fileio import atomic_path, atomic_write_text
from helpers.data.layout import SAMPLE_RATE, SUPPLEMENTAL, SUPPLEMENTAL_KINDS, YEAR_FILE

GENERATOR_VERSION = 2  # 1: every machine ID drawn on its own from the type's ranges
MANIFEST = ".synth.json"


@dataclass(frozen=True)
class ClipCounts:
    """Clips of one machine ID (2020): normal training clips, normal and anomalous test clips."""

    train: int
    test_normal: int
    test_anomaly: int

    @property
    def total(self) -> int:
        return self.train + self.test_normal + self.test_anomaly


@dataclass(frozen=True)
class DomainCounts:
    """Clips of one section (2021 on): training clips per domain; normal and anomalous test clips of each domain."""

    source_train: int
    target_train: int
    test_normal: int
    test_anomaly: int

    @property
    def total(self) -> int:
        return self.source_train + self.target_train + len(DOMAINS) * (self.test_normal + self.test_anomaly)

    def groups(self, domain: str) -> list[tuple[str, str, int]]:
        """[(split, label, clips)] of one domain."""
        train = self.source_train if domain == "source" else self.target_train
        return [("train", "normal", train), ("test", "normal", self.test_normal), ("test", "anomaly", self.test_anomaly)]


def _uniform_counts(train: int, test_normal: int, test_anomaly: int) -> dict:
    counts = ClipCounts(train, test_normal, test_anomaly)
    return {t: {i: counts for i in ids} for t, ids in EDITIONS[2020].dev_sections.items()}


# The DCASE 2020 Task 2 development set, per ID: (train, test normal, test anomaly); 30,987 clips.
_FULL = {
    "ToyCar": {"01": (1000, 350, 263), "02": (1000, 350, 265), "03": (1000, 350, 265), "04": (1000, 350, 266)},
    "ToyConveyor": {"01": (1000, 800, 355), "02": (1000, 800, 400), "03": (1000, 800, 354)},
    "fan": {"00": (911, 100, 407), "02": (916, 100, 359), "04": (933, 100, 348), "06": (915, 100, 361)},
    "pump": {"00": (906, 100, 143), "02": (905, 100, 111), "04": (602, 100, 100), "06": (936, 100, 102)},
    "slider": {"00": (968, 100, 356), "02": (968, 100, 267), "04": (434, 100, 178), "06": (434, 100, 89)},
    "valve": {"00": (891, 100, 119), "02": (608, 100, 120), "04": (900, 100, 120), "06": (892, 100, 120)},
}

# DCASE 2020 clip counts per preset, machine type and development ID. An eval ID takes the counts
# of the development ID at the same position (ToyCar 05 as 01, fan 01 as 00, ...).
PRESETS: dict[str, dict[str, dict[str, ClipCounts]]] = {
    "tiny": _uniform_counts(3, 2, 2),
    "small": _uniform_counts(55, 25, 25),
    "medium": _uniform_counts(250, 50, 50),
    "full": {t: {i: ClipCounts(*c) for i, c in ids.items()} for t, ids in _FULL.items()},
}

# Clip counts of every section from 2021 on: per preset, the edition's rules (Rules.synth_section_counts).

# Level of each type in dBFS (RMS), as in the real DCASE 2020 clips (slider: like the other MIMII
# types; gearbox, bearing and ToyTrain: between the MIMII and the ToyADMOS levels).
TYPE_LEVEL_DB = {"ToyCar": -34.0, "ToyConveyor": -23.5, "fan": -38.5, "pump": -39.0, "slider": -38.5, "valve": -38.5,
                 "gearbox": -37.0, "bearing": -40.0, "ToyTrain": -33.0}

# Machine-to-factory-noise ratios a machine draws from, in dB (MIMII mixed at -6, 0 and 6 dB; the
# real valve clips are mostly background between the clicks).
SNR_CHOICES_DB = {t: (6.0, 3.0, 0.0, -3.0, -6.0) for t in TYPE_LEVEL_DB} | {"valve": (-3.0, -6.0, -9.0)}

# Units of one product (a 2020 machine ID, a later edition's section): every continuous parameter of
# the product's design (rates, resonance frequencies and widths, levels) times exp(N(0, UNIT_SPREAD)),
# so speeds and resonances differ by a few per cent; the design's counts (blades, vanes, teeth) are
# shared. Each unit is also mounted its own way: a spectral colouring of MOUNTING_DB (std per octave).
UNIT_SPREAD = 0.04
MOUNTING_DB = 1.5
UNIT_LEVEL_DB = 1.0  # a unit's level: the type's level ± this (uniform)
UNIT_SNR_DB = 1.5  # a unit's SNR: the product's ± this (uniform)

# Clip to clip within a unit, as in real recordings: the running speed (× exp(N(0, CLIP_SPEED_SPREAD))),
# the load (how strongly each band is excited: a colouring of LOAD_DB per octave and LOAD_TILT_DB per
# octave of tilt), the background (another mix of the factory's sources: BACKGROUND_DB per octave,
# BACKGROUND_TILT_DB; the SNR ± CLIP_SNR_DB, std) and the level (CLIP_LEVEL_DB, std).
CLIP_SPEED_SPREAD = 0.015
LOAD_DB, LOAD_TILT_DB = 2.0, 0.5
BACKGROUND_DB, BACKGROUND_TILT_DB = 2.0, 0.5
CLIP_SNR_DB = 1.5
CLIP_LEVEL_DB = 1.0

# The recording chain's high-pass per type, Hz: ToyADMOS's (the toys) lets almost nothing below 50 Hz
# through, as its real clips show; MIMII's passes down to 20 Hz.
RECORDING_LOW_CUT_HZ = {t: 20.0 for t in TYPE_LEVEL_DB} | {"ToyCar": 50.0, "ToyConveyor": 50.0, "ToyTrain": 50.0}

# Overall anomaly strength per type (scales every fault's severity).
ANOMALY_STRENGTH = {"ToyCar": 3.4, "ToyConveyor": 1.6, "fan": 2.2, "pump": 1.5, "slider": 2.4, "valve": 2.5,
                    "gearbox": 1.4, "bearing": 2.2, "ToyTrain": 1.0}

# ---------------------------------------------------------------------------------------------
# Signal building blocks (all vectorised; every signal is [shape=(samples,)])
# ---------------------------------------------------------------------------------------------

def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2)) + 1e-12)


def _unit(x: np.ndarray) -> np.ndarray:
    """`x` scaled to RMS 1."""
    return x / _rms(x)


def resonance_gain(freqs: np.ndarray, peaks) -> np.ndarray:
    """Sum of Lorentzian peaks [(centre Hz, bandwidth Hz, linear gain)], as an amplitude gain."""
    gain = np.zeros_like(freqs)
    for centre, bandwidth, amount in peaks:
        gain += amount / (1.0 + ((freqs - centre) / (bandwidth / 2)) ** 2)
    return gain


def shape_spectrum(x: np.ndarray, tilt_db_per_octave: float = 0.0, low_cut: float = 20.0,
                   high_cut: float | None = None, peaks=(), floor: float = 1.0) -> np.ndarray:
    """Filter `x` in the frequency domain: a slope of `tilt` dB/octave (0 dB at 1 kHz), second-order
    high-pass at `low_cut`, optional low-pass at `high_cut`, times (floor + resonance peaks); RMS 1."""
    spectrum = fft.rfft(x)
    freqs = fft.rfftfreq(len(x), 1 / SAMPLE_RATE)
    safe = np.maximum(freqs, 1.0)
    gain = (safe / 1000.0) ** (tilt_db_per_octave / 6.0206)
    ratio = (safe / low_cut) ** 2
    gain *= ratio / (1 + ratio)
    if high_cut is not None:
        gain /= 1 + (safe / high_cut) ** 4
    gain *= floor + resonance_gain(freqs, peaks)
    gain[0] = 0.0
    return _unit(fft.irfft(spectrum * gain, len(x)))


def noise(rng: np.random.Generator, n: int, **shape) -> np.ndarray:
    """Gaussian noise shaped by shape_spectrum, RMS 1."""
    return shape_spectrum(rng.standard_normal(n), **shape)


OCTAVES_HZ = 62.5 * 2.0 ** np.arange(8)  # the knots of a colouring: octave centres 62.5 Hz to 8 kHz


def colouring(rng: np.random.Generator, spread_db: float, tilt_spread_db: float = 0.0) -> np.ndarray:
    """A random colouring in dB at OCTAVES_HZ: N(0, spread_db) per octave, plus a tilt of
    N(0, tilt_spread_db) dB per octave (0 dB at 1 kHz). [shape=(octaves,)]"""
    return rng.normal(0, spread_db, len(OCTAVES_HZ)) + rng.normal(0, tilt_spread_db) * np.log2(OCTAVES_HZ / 1000)


def colour(x: np.ndarray, curve_db: np.ndarray, low_cut_hz: float) -> np.ndarray:
    """`x` through the colouring `curve_db` (dB at OCTAVES_HZ, straight in between against log
    frequency, flat beyond the end knots) and a fourth-order high-pass at `low_cut_hz` (the recording chain's)."""
    freqs = fft.rfftfreq(len(x), 1 / SAMPLE_RATE)
    gain = 10 ** (np.interp(np.log2(np.maximum(freqs, 1.0)), np.log2(OCTAVES_HZ), curve_db) / 20)
    ratio = (freqs / low_cut_hz) ** 4
    return fft.irfft(fft.rfft(x) * gain * ratio / (1 + ratio), len(x))


def wander(rng: np.random.Generator, n: int, rate_hz: float) -> np.ndarray:
    """A slow random curve of unit spread, changing about `rate_hz` times a second."""
    knots = rng.standard_normal(int(n / SAMPLE_RATE * rate_hz) + 3)
    return np.interp(np.arange(n) * (rate_hz / SAMPLE_RATE), np.arange(len(knots)), knots)


def phase_of(frequency: np.ndarray | float, n: int, rng: np.random.Generator) -> np.ndarray:
    """Running phase in radians of a (possibly time-varying) frequency in Hz, random start."""
    step = np.broadcast_to(np.asarray(frequency, dtype=np.float64), (n,)) * (2 * np.pi / SAMPLE_RATE)
    return np.cumsum(step) + rng.uniform(0, 2 * np.pi)


def harmonics(phase: np.ndarray, amplitudes, rng: np.random.Generator) -> np.ndarray:
    """Sum of sines at whole multiples of `phase`, with random starting phases."""
    fundamental = np.exp(1j * phase)
    offsets = rng.uniform(0, 2 * np.pi, len(amplitudes))
    power, total = fundamental.copy(), np.zeros(len(phase), dtype=complex)
    for amplitude, offset in zip(amplitudes, offsets):  # z**k by repeated multiplication, k = 1..K
        total += amplitude * np.exp(1j * offset) * power
        power *= fundamental
    return total.imag


def pulses(phase: np.ndarray, sharpness: float) -> np.ndarray:
    """A periodic pulse per cycle of `phase` (narrower for larger sharpness), zero mean.

    Rich in harmonics: the pressure pulse of a blade or vane passing, a gear tooth meshing.
    """
    wave = np.exp(sharpness * (np.cos(phase) - 1.0))
    return wave - wave.mean()


def ring(modes, seconds: float = 0.08) -> np.ndarray:
    """Impulse response of a struck body: decaying sines [(Hz, decay seconds, amplitude)]."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    response = sum(a * np.exp(-t / d) * np.sin(2 * np.pi * f * t) for f, d, a in modes)
    return response / np.max(np.abs(response))


def impacts(n: int, times: np.ndarray, amplitudes, response: np.ndarray) -> np.ndarray:
    """Impacts at `times` (seconds) with `amplitudes`, each ringing with `response`."""
    spikes = np.zeros(n)
    index = np.round(np.asarray(times) * SAMPLE_RATE).astype(int)
    keep = (index >= 0) & (index < n)
    np.add.at(spikes, index[keep], np.broadcast_to(amplitudes, index.shape)[keep])
    return fftconvolve(spikes, response)[:n]


def open_mask(n: int, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """True for samples inside any [start, end) interval (seconds); intervals sorted by start."""
    t = np.arange(n) / SAMPLE_RATE
    latest = np.searchsorted(starts, t, side="right") - 1
    return (latest >= 0) & (t < ends[np.maximum(latest, 0)])


def cycle_times(period: float, seconds: float, rng: np.random.Generator, jitter: float = 0.0) -> np.ndarray:
    """Times of a periodic event over a clip, random start, each time jittered by `jitter` seconds (std)."""
    times = rng.uniform(0, period) + np.arange(-1, int(seconds / period) + 2) * period
    return times + rng.normal(0, jitter, len(times)) if jitter else times



def crossings(position: np.ndarray, spacing: float) -> np.ndarray:
    """Times (seconds) at which a rising `position` [shape=(samples,)] passes a whole multiple of `spacing`.

    A phase with spacing 2π: once per turn; a distance travelled with the rail length: each rail joint.
    """
    return np.flatnonzero(np.diff(np.floor(position / spacing)) != 0) / SAMPLE_RATE


# ---------------------------------------------------------------------------------------------
# Machine models: per-machine parameters, and one clip's sound (normal part, anomalous additions)
# ---------------------------------------------------------------------------------------------

def _fan_params(rng):
    blades = int(rng.choice([5, 7, 9]))
    return {"blades": blades, "shaft_hz": rng.uniform(200, 320) / blades, "airflow_tilt": rng.uniform(-5.0, -3.8),
            "housing": [(rng.uniform(400, 1000), rng.uniform(80, 200), rng.uniform(1, 3)),
                        (rng.uniform(1000, 2500), rng.uniform(200, 500), rng.uniform(0.5, 1.5))],
            "tone_level": rng.uniform(0.5, 0.9), "pulse_sharpness": rng.uniform(1.5, 3.0)}


def _fan(rng, n, p, anomaly, severity):
    seconds = n / SAMPLE_RATE
    speed = p["shaft_hz"] * (1 + 0.004 * wander(rng, n, 0.5) + rng.normal(0, 0.01))
    if anomaly == "contamination":
        speed = speed * (1 - 0.02 * severity)
    shaft = phase_of(speed, n, rng)
    blade_pass = pulses(p["blades"] * shaft, p["pulse_sharpness"])
    blade_pass = shape_spectrum(blade_pass, -3.0, low_cut=60, peaks=p["housing"]) * p["tone_level"]
    airflow = noise(rng, n, tilt_db_per_octave=p["airflow_tilt"], low_cut=40, peaks=p["housing"])
    airflow *= 1 + 0.12 * wander(rng, n, 1.5)
    extra = np.zeros(n)
    if anomaly == "imbalance":
        blade_pass *= 1 + 0.35 * severity * np.sin(shaft)
        extra += 0.25 * severity * harmonics(shaft, [1.0, 0.4], rng)
    elif anomaly == "contamination":
        band = rng.uniform(800, 3000)
        extra += 0.2 * severity * noise(rng, n, low_cut=band / 2, high_cut=band * 2) * (1 + 0.5 * wander(rng, n, 3))
    elif anomaly == "blade_damage":
        damaged = pulses(shaft + rng.uniform(0, 2 * np.pi), 8.0)
        extra += 0.5 * severity * shape_spectrum(blade_pass * damaged, peaks=p["housing"])
        extra += 0.25 * severity * impacts(n, np.cumsum(np.full(int(seconds * p["shaft_hz"]) + 1, 1 / p["shaft_hz"])),
                                           1.0, ring([(p["housing"][1][0], 0.004, 1.0)]))
    return blade_pass + airflow, extra


def _pump_params(rng):
    shaft = rng.uniform(23.0, 29.5)
    return {"shaft_hz": shaft, "vanes": int(rng.choice([4, 5, 6])), "pipe_hz": rng.uniform(1500, 2600),
            "pipe_width": rng.uniform(300, 700), "flow_tilt": rng.uniform(-2.5, -0.5),
            "body": [(rng.uniform(100, 700), rng.uniform(40, 120), rng.uniform(1, 4))],
            "hum_level": rng.uniform(0.1, 0.3)}


def _pump(rng, n, p, anomaly, severity):
    speed = p["shaft_hz"] * (1 + 0.003 * wander(rng, n, 0.3) + rng.normal(0, 0.005))
    if anomaly == "clogging":
        speed = speed * (1 - 0.02 * severity * (1 + wander(rng, n, 0.5)) / 2)
    shaft = phase_of(speed, n, rng)
    motor = p["hum_level"] * _unit(harmonics(shaft, [1.0, 0.5, 0.3, 0.2], rng) + harmonics(2 * np.pi * 100 / SAMPLE_RATE * np.arange(n), [0.6], rng))
    pulsation = pulses(p["vanes"] * shaft, 6.0)
    pipe = [(p["pipe_hz"], p["pipe_width"], 6.0)] + p["body"]
    vane_pass = 0.6 * shape_spectrum(pulsation, -2.0, low_cut=80, peaks=pipe, floor=0.3)
    flow = noise(rng, n, tilt_db_per_octave=p["flow_tilt"], low_cut=30, peaks=pipe, floor=1.0)
    flow *= 1 + 0.15 * pulses(p["vanes"] * shaft, 2.0) + 0.1 * wander(rng, n, 1.0)
    extra = np.zeros(n)
    if anomaly == "leakage":
        hiss = noise(rng, n, low_cut=rng.uniform(3000, 4500), high_cut=7000)
        extra += 0.2 * severity * hiss * np.clip(1 + 0.8 * wander(rng, n, 0.7), 0, None)
    elif anomaly == "clogging":
        flow *= 1 + 0.35 * severity * wander(rng, n, 2.0)
        crackle_times = rng.uniform(0, n / SAMPLE_RATE, rng.poisson(20 * severity + 1))
        extra += 0.5 * severity * impacts(n, crackle_times, rng.uniform(0.3, 1.0, len(crackle_times)),
                                          ring([(p["pipe_hz"], 0.003, 1.0), (4000, 0.001, 0.5)], 0.02))
    return motor + vane_pass + flow, extra


def _slider_params(rng):
    return {"stroke_s": rng.uniform(1.2, 2.4), "motor_hz": rng.uniform(250, 500), "friction_hz": rng.uniform(1200, 2500),
            "stop": [(rng.uniform(500, 1200), 0.02, 1.0), (rng.uniform(2000, 4000), 0.006, 0.6)],
            "stop_level": rng.uniform(2.0, 4.0), "dwell": rng.uniform(0.1, 0.25)}


def _slider(rng, n, p, anomaly, severity):
    period = 2 * p["stroke_s"] * (1 + rng.normal(0, 0.01))
    cycle = phase_of(1 / period, n, rng)
    velocity = np.clip(np.sin(cycle) * (1 + p["dwell"]), -1, 1)  # flat tops: constant speed mid-stroke
    speed = np.abs(velocity)
    motor_phase = phase_of(p["motor_hz"] * speed, n, rng)
    motor = 0.5 * shape_spectrum(harmonics(motor_phase, [1.0, 0.5, 0.3, 0.2, 0.1], rng) * speed, -2.0, low_cut=80)
    friction = noise(rng, n, tilt_db_per_octave=-3.0, low_cut=200, peaks=[(p["friction_hz"], 800, 3.0)]) * speed
    reversal_times = np.flatnonzero(np.diff(np.sign(velocity)) != 0) / SAMPLE_RATE
    reversal_times = reversal_times + rng.normal(0, 0.005, len(reversal_times))
    stops = p["stop_level"] * impacts(n, reversal_times, rng.uniform(0.8, 1.2, len(reversal_times)), ring(p["stop"]))
    extra = np.zeros(n)
    if anomaly == "rail_damage":
        position = -np.cos(cycle)
        bump = rng.uniform(-0.6, 0.6)
        crossings = np.flatnonzero(np.diff(np.sign(position - bump)) != 0) / SAMPLE_RATE
        extra += 2.0 * severity * impacts(n, crossings, 1.0, ring([(rng.uniform(1500, 3500), 0.004, 1.0), (600, 0.01, 0.5)]))
    elif anomaly == "no_grease":
        squeal_hz = rng.uniform(1500, 3500) * (1 + 0.02 * wander(rng, n, 4))
        squeal = np.sin(phase_of(squeal_hz, n, rng)) * speed**2
        extra += 0.2 * severity * (squeal + friction * 0.8)
    return motor + friction + stops, extra


def _valve_params(rng):
    return {"open_s": rng.uniform(0.3, 0.8), "closed_s": rng.uniform(0.6, 1.6), "flow_hz": rng.uniform(1500, 3500),
            "click": [(rng.uniform(1500, 4000), 0.0012, 1.0), (rng.uniform(400, 1000), 0.004, 0.6)],
            "flow_level": rng.uniform(0.15, 0.35)}


def _valve(rng, n, p, anomaly, severity):
    seconds = n / SAMPLE_RATE
    jitter = 0.01 + (0.08 * severity if anomaly == "irregular_timing" else 0.0)
    period = p["open_s"] + p["closed_s"]
    opens = np.sort(cycle_times(period, seconds, rng, jitter))
    closes = opens + p["open_s"] * np.exp(rng.normal(0, 0.02 + (0.2 * severity if anomaly == "irregular_timing" else 0), len(opens)))
    click = ring(p["click"], 0.05)
    clicks = impacts(n, np.concatenate([opens, closes]), rng.uniform(0.7, 1.0, 2 * len(opens)), click)
    is_open = open_mask(n, opens, closes)
    flow_noise = noise(rng, n, low_cut=500, peaks=[(p["flow_hz"], 1200, 3.0)])
    flow = p["flow_level"] * flow_noise * is_open
    extra = np.zeros(n)
    if anomaly == "contamination":  # the seat no longer seals: leak flow while closed, bouncing plunger
        extra += 0.5 * severity * impacts(n, opens + rng.uniform(0.006, 0.02), 1.0, click)
        extra += 0.3 * severity * p["flow_level"] * flow_noise * ~is_open
    elif anomaly == "irregular_timing":  # chattering: extra, unscheduled operations
        chatter = rng.uniform(0, seconds, rng.poisson(3 * severity) + 1)
        extra += impacts(n, np.concatenate([chatter, chatter + rng.uniform(0.02, 0.1, len(chatter))]), 1.0, click)
    return clicks + flow, extra


def _toycar_params(rng):
    return {"motor_hz": rng.uniform(90, 150), "teeth": int(rng.choice([7, 8, 9, 10])), "gear_ratio": rng.uniform(10, 16),
            "belt_tilt": rng.uniform(-7.5, -6.0), "whine_level": rng.uniform(0.25, 0.5),
            "body": [(rng.uniform(150, 350), rng.uniform(60, 150), 2.0), (rng.uniform(800, 1100), 200, 2.0)]}


def _toycar(rng, n, p, anomaly, severity):
    speed = p["motor_hz"] * (1 + 0.01 * wander(rng, n, 0.8) + rng.normal(0, 0.01))
    motor = phase_of(speed, n, rng)
    wheel = motor / p["gear_ratio"]
    whine = harmonics(motor, [1.0, 0.6, 0.3, 0.2], rng)
    mesh = pulses(p["teeth"] * motor, 3.0)
    gears = p["whine_level"] * shape_spectrum(whine + 1.5 * _unit(mesh), -3.0, low_cut=60, peaks=p["body"])
    rolling = noise(rng, n, tilt_db_per_octave=p["belt_tilt"], low_cut=50, peaks=p["body"])
    rolling *= 1 + 0.1 * np.sin(wheel) + 0.12 * wander(rng, n, 2.0)
    extra = np.zeros(n)
    if anomaly == "bent_shaft":
        gears *= 1 + 0.35 * severity * np.sin(motor)
        extra += 0.2 * severity * p["whine_level"] * _unit(harmonics(motor, [1.0], rng))
    elif anomaly == "deformed_gear":
        per_turn = np.flatnonzero(np.diff(np.floor(wheel / (2 * np.pi))) != 0) / SAMPLE_RATE
        extra += 0.5 * severity * p["whine_level"] * impacts(n, per_turn, 1.0, ring([(p["body"][1][0], 0.004, 1.0)], 0.03))
        extra += 0.3 * severity * p["whine_level"] * _unit(mesh * np.sin(wheel))
    elif anomaly == "tyre_damage":
        per_turn = np.flatnonzero(np.diff(np.floor(wheel / (2 * np.pi) + 0.37)) != 0) / SAMPLE_RATE
        extra += 0.8 * severity * impacts(n, per_turn, 1.0, ring([(p["body"][0][0], 0.015, 1.0), (80, 0.02, 0.8)]))
    return gears + rolling, extra


def _toyconveyor_params(rng):
    return {"motor_hz": rng.uniform(50, 60), "belt_s": rng.uniform(1.0, 2.0), "roller_hz": rng.uniform(8, 15),
            "rumble_tilt": rng.uniform(-9.5, -7.5), "joint_level": rng.uniform(1.0, 2.5),
            "body": [(rng.uniform(70, 200), rng.uniform(30, 80), 3.0), (rng.uniform(400, 1000), 150, 1.0)]}


def _toyconveyor(rng, n, p, anomaly, severity):
    seconds = n / SAMPLE_RATE
    speed = p["motor_hz"] * (1 + 0.005 * wander(rng, n, 0.5) + rng.normal(0, 0.005))
    motor = phase_of(speed, n, rng)
    hum = 0.35 * shape_spectrum(harmonics(motor, [1.0, 0.7, 0.5, 0.3, 0.2, 0.1], rng), low_cut=40)
    rollers = phase_of(p["roller_hz"], n, rng)
    rumble = noise(rng, n, tilt_db_per_octave=p["rumble_tilt"], low_cut=40, peaks=p["body"])
    rumble *= 1 + 0.15 * np.sin(rollers) + 0.1 * wander(rng, n, 1.0)
    joints = cycle_times(p["belt_s"], seconds, rng, 0.003)
    joint_ticks = p["joint_level"] * impacts(n, joints, 1.0, ring([(p["body"][1][0], 0.01, 1.0), (p["body"][0][0], 0.03, 0.7)]))
    extra = np.zeros(n)
    if anomaly == "belt_damage":
        start = rng.uniform(0, 1)
        segment = pulses(2 * np.pi * (np.arange(n) / SAMPLE_RATE / p["belt_s"] + start), 12.0) + 1e-3
        extra += 0.2 * severity * noise(rng, n, tilt_db_per_octave=-3, low_cut=150) * _unit(segment)
    elif anomaly == "foreign_object":
        count = rng.poisson(12 * seconds / 10) + 1
        times = rng.uniform(0, seconds, count)
        extra += 0.8 * severity * impacts(n, times, rng.uniform(0.5, 1.0, count),
                                          ring([(rng.uniform(1500, 3500), 0.005, 1.0), (rng.uniform(300, 700), 0.01, 0.5)]))
    return hum + rumble + joint_ticks, extra




def _gearbox_params(rng):
    return {"shaft_hz": rng.uniform(15, 30), "teeth": int(rng.integers(17, 32)), "ratio": rng.uniform(2.0, 4.0),
            "mesh": [1.0, rng.uniform(0.3, 0.6), rng.uniform(0.1, 0.3)], "sidebands": rng.uniform(0.1, 0.25),
            "casing": [(rng.uniform(1500, 3500), rng.uniform(200, 500), rng.uniform(1.0, 2.5)),
                       (rng.uniform(400, 1000), rng.uniform(100, 250), rng.uniform(0.5, 1.5))],
            "meshing_level": rng.uniform(0.3, 0.6), "hum_level": rng.uniform(0.1, 0.3)}


def _gearbox(rng, n, p, anomaly, severity):
    """A motor-driven gear pair: mesh harmonics at teeth × shaft rate, amplitude-modulated once per turn
    of either shaft by eccentricity (sidebands at ± each shaft rate), broadband meshing noise pulsing at
    the mesh rate, both ringing the casing; the shaft's own hum.

    Faults: a broken tooth (once per turn the gap meshes: an impact and a dropout of the mesh tone),
    wear (rough flanks: stronger, noisier higher mesh harmonics and louder meshing noise).
    """
    speed = p["shaft_hz"] * (1 + 0.003 * wander(rng, n, 0.4) + rng.normal(0, 0.005))
    shaft = phase_of(speed, n, rng)
    output = shaft / p["ratio"] + rng.uniform(0, 2 * np.pi)
    mesh = p["teeth"] * shaft
    eccentricity = 1 + p["sidebands"] * (np.sin(shaft) + 0.6 * np.sin(output))
    whine = shape_spectrum(harmonics(mesh, p["mesh"], rng) * eccentricity, low_cut=80, peaks=p["casing"], floor=0.5)
    meshing = noise(rng, n, tilt_db_per_octave=-2.0, low_cut=100, peaks=p["casing"]) * (1 + 0.5 * pulses(mesh, 3.0))
    hum = p["hum_level"] * _unit(harmonics(shaft, [1.0, 0.5], rng))
    extra = np.zeros(n)
    if anomaly == "broken_tooth":
        gap = rng.uniform(0, 2 * np.pi)
        whine *= 1 - np.clip(0.6 * severity, 0, 0.9) * np.exp(40 * (np.cos(shaft - gap) - 1))
        turns = crossings(shaft - gap, 2 * np.pi)
        extra += 0.6 * severity * impacts(n, turns, rng.uniform(0.7, 1.0, len(turns)),
                                          ring([(p["casing"][0][0], 0.003, 1.0), (p["casing"][1][0], 0.008, 0.6)], 0.04))
    elif anomaly == "wear":
        rough = harmonics(mesh, [0.2, 0.5, 0.8, 0.6, 0.4], rng) * (1 + 0.5 * wander(rng, n, 8.0))
        extra += 0.35 * severity * shape_spectrum(rough, low_cut=80, peaks=p["casing"])
        meshing *= 1 + 0.5 * severity
    return whine + p["meshing_level"] * meshing + hum, extra


def _bearing_params(rng):
    return {"shaft_hz": rng.uniform(15, 40), "balls": int(rng.integers(8, 13)), "ball_ratio": rng.uniform(0.18, 0.3),
            "housing": [(rng.uniform(2500, 6000), 0.0015, 1.0), (rng.uniform(800, 1800), 0.004, 0.4)],
            "race_hz": rng.uniform(2000, 5000), "tone_level": rng.uniform(0.3, 0.7)}


def _bearing(rng, n, p, anomaly, severity):
    """A shaft in a rolling-element bearing: the shaft tone (residual imbalance, 1× and harmonics) and
    smooth rolling noise lifted around the race resonance, slightly modulated at the ball-pass rate.

    The balls' cage turns at FTF = fr (1 - d/D) / 2 (fr: shaft rate, d/D: ball to pitch diameter,
    contact angle 0), so a ball passes a point of the outer race at BPFO = N·FTF, of the inner race at
    BPFI = N·(fr - FTF), and a ball's defect strikes a race at 2·BSF = fr (1 - (d/D)²) / (d/D). Faults
    are a defect at one of these places: each strike is an impulse ringing the housing, its time
    jittered by 1 % rolling-element slip; an inner-race defect is loaded (loud) once per shaft turn, a
    ball defect once per cage turn; an outer-race defect sits still in the load zone (steady).
    """
    speed = p["shaft_hz"] * (1 + 0.002 * wander(rng, n, 0.3) + rng.normal(0, 0.005))
    shaft = phase_of(speed, n, rng)
    r, balls = p["ball_ratio"], p["balls"]
    cage = shaft * (1 - r) / 2 + rng.uniform(0, 2 * np.pi)
    tone = p["tone_level"] * _unit(harmonics(shaft, [1.0, 0.3, 0.1], rng))
    rolling = noise(rng, n, tilt_db_per_octave=-1.5, low_cut=200, peaks=[(p["race_hz"], 1500, 3.0)])
    rolling *= 1 + 0.05 * np.sin(balls * cage) + 0.05 * wander(rng, n, 1.0)
    extra = np.zeros(n)
    if anomaly is not None:
        strike_phase, load = {"outer_race": (balls * cage, None), "inner_race": (balls * (shaft - cage), shaft),
                              "ball": (shaft * (1 - r**2) / r, cage)}[anomaly]
        times = crossings(strike_phase, 2 * np.pi)  # at least ~30 a second
        amplitude = rng.uniform(0.8, 1.2, len(times))
        if load is not None:
            amplitude *= 0.55 + 0.45 * np.cos(load[np.round(times * SAMPLE_RATE).astype(int)] - rng.uniform(0, 2 * np.pi))
        times = times + rng.normal(0, 0.01 * np.diff(times).mean(), len(times))
        extra += 0.5 * severity * impacts(n, times, amplitude, ring(p["housing"], 0.02))
    return tone + rolling, extra


def _toytrain_params(rng):
    axle, bogie = rng.uniform(2.0, 3.0), rng.uniform(8.0, 12.0)
    return {"speed_cm_s": rng.uniform(20, 40), "motor_per_cm": rng.uniform(8, 12), "rail_cm": rng.uniform(10, 20),
            "axles_cm": (0.0, axle, bogie, bogie + axle), "wheel_cm": rng.uniform(0.6, 1.0), "loop_s": rng.uniform(8, 15),
            "click": [(rng.uniform(2000, 5000), 0.002, 1.0), (rng.uniform(600, 1500), 0.005, 0.5)],
            "body": [(rng.uniform(200, 500), rng.uniform(80, 200), 2.0)], "whine_level": rng.uniform(0.3, 0.6),
            "click_level": rng.uniform(1.0, 2.0)}


def _toytrain(rng, n, p, anomaly, severity):
    """A toy train on a track loop: the motor's whine (its rate ∝ the train's speed), rolling noise,
    and a click as each of the four axles (two bogies) crosses a rail joint, so joints come at
    speed / rail length and each is a cluster of four clicks; all swelling and fading once per lap as
    the train passes the microphone.

    Faults: a chipped wheel (an impact once per wheel turn, at speed / wheel circumference), a
    derailment-like rattle (a wheel riding on the rail edge: irregular knocks, rough rolling noise).
    """
    seconds = n / SAMPLE_RATE
    velocity = p["speed_cm_s"] * (1 + 0.02 * wander(rng, n, 0.5) + rng.normal(0, 0.01))
    distance = np.cumsum(velocity) / SAMPLE_RATE + rng.uniform(0, p["rail_cm"])  # cm travelled
    motor = phase_of(velocity * p["motor_per_cm"], n, rng)
    whine = p["whine_level"] * shape_spectrum(harmonics(motor, [1.0, 0.5, 0.3, 0.15], rng), -2.0, low_cut=100, peaks=p["body"])
    rolling = noise(rng, n, tilt_db_per_octave=-4.0, low_cut=80, peaks=p["body"]) * (velocity / p["speed_cm_s"])
    joints = np.concatenate([crossings(distance - offset, p["rail_cm"]) for offset in p["axles_cm"]])
    clicks = p["click_level"] * impacts(n, joints, rng.uniform(0.6, 1.0, len(joints)), ring(p["click"], 0.03))
    passing = 1 + 0.3 * np.cos(2 * np.pi * np.arange(n) / SAMPLE_RATE / p["loop_s"] + rng.uniform(0, 2 * np.pi))
    extra = np.zeros(n)
    if anomaly == "chipped_wheel":
        circumference = np.pi * p["wheel_cm"]
        turns = crossings(distance - rng.uniform(0, circumference), circumference)
        chip = ring([(rng.uniform(1500, 4000), 0.003, 1.0), (p["body"][0][0], 0.01, 0.5)], 0.03)
        extra += 0.6 * severity * impacts(n, turns, 1.0, chip)
    elif anomaly == "derailment":
        count = rng.poisson(15 * seconds) + 1
        knocks = impacts(n, rng.uniform(0, seconds, count), rng.uniform(0.3, 1.0, count),
                         ring([(rng.uniform(800, 3000), 0.006, 1.0), (rng.uniform(3000, 6000), 0.002, 0.5)], 0.03))
        extra += severity * (0.6 * knocks + 0.4 * rolling * wander(rng, n, 6.0))
    return (whine + rolling + clicks) * passing, extra * passing


@dataclass(frozen=True)
class Machine:
    """A machine type's sound model.

    params(rng) -> dict: one machine's parameters; render(rng, n, params, anomaly, severity) ->
    (normal part, anomalous addition), each [shape=(n,)]; faults: the anomalies it can have; speed:
    {parameter: power}, how the parameters follow the running speed (a rate: 1, a duration: -1);
    rating: (attribute key, the running speed as text from the parameters, in the type's own unit).
    """

    params: Callable[[np.random.Generator], dict]
    render: Callable
    faults: tuple[str, ...]
    speed: dict[str, int]
    rating: tuple[str, Callable[[dict], str]]


MACHINES = {
    "fan": Machine(_fan_params, _fan, ("imbalance", "contamination", "blade_damage"), {"shaft_hz": 1},
                   ("vel", lambda p: f"{p['shaft_hz']:.0f}")),
    "pump": Machine(_pump_params, _pump, ("leakage", "clogging"), {"shaft_hz": 1},
                    ("vel", lambda p: f"{p['shaft_hz']:.0f}")),
    "slider": Machine(_slider_params, _slider, ("rail_damage", "no_grease"), {"stroke_s": -1, "motor_hz": 1},
                      ("vel", lambda p: f"{300 / p['stroke_s']:.0f}")),  # mm/s over a 300 mm stroke
    "valve": Machine(_valve_params, _valve, ("contamination", "irregular_timing"), {"open_s": -1, "closed_s": -1},
                     ("ops", lambda p: f"{60 / (p['open_s'] + p['closed_s']):.0f}")),  # operations a minute
    "ToyCar": Machine(_toycar_params, _toycar, ("bent_shaft", "deformed_gear", "tyre_damage"), {"motor_hz": 1},
                      ("spd", lambda p: f"{p['motor_hz'] / 4:.0f}V")),  # motor voltage
    "ToyConveyor": Machine(_toyconveyor_params, _toyconveyor, ("belt_damage", "foreign_object"),
                           {"motor_hz": 1, "roller_hz": 1, "belt_s": -1}, ("spd", lambda p: f"{p['motor_hz']:.0f}")),
    "gearbox": Machine(_gearbox_params, _gearbox, ("broken_tooth", "wear"), {"shaft_hz": 1},
                       ("volt", lambda p: f"{p['shaft_hz'] / 10:.1f}")),  # motor voltage
    "bearing": Machine(_bearing_params, _bearing, ("outer_race", "inner_race", "ball"), {"shaft_hz": 1},
                       ("vel", lambda p: f"{p['shaft_hz']:.0f}")),
    "ToyTrain": Machine(_toytrain_params, _toytrain, ("chipped_wheel", "derailment"), {"speed_cm_s": 1},
                        ("spd", lambda p: f"{p['speed_cm_s']:.0f}")),  # cm/s
}


def base_type(machine_type: str) -> str:
    """The sound model's type of a machine type: 2026's emulated "<type>Emu" are rendered as <type>."""
    return machine_type.removesuffix("Emu")


def at_speed(params: dict, speed: float, powers: dict[str, int]) -> dict:
    """A machine's parameters when it runs `speed` times as fast: each named parameter × speed**power."""
    return params | {key: params[key] * speed**power for key, power in powers.items()}


def _factory_params(rng):
    return {"tilt": rng.uniform(-6.0, -4.0), "hum_hz": rng.uniform(65, 75),
            "tones": rng.uniform(500, 1700, 3), "clank_rate": rng.uniform(0.2, 1.0),
            "hall": [(rng.uniform(100, 400), rng.uniform(100, 300), 1.5)]}


def factory_noise(rng: np.random.Generator, n: int, p: dict) -> np.ndarray:
    """Factory background: hall rumble, electrical hum, distant machines' tones and clanks; RMS 1."""
    seconds = n / SAMPLE_RATE
    rumble = noise(rng, n, tilt_db_per_octave=p["tilt"], low_cut=25, peaks=p["hall"]) * (1 + 0.1 * wander(rng, n, 0.5))
    t_phase = 2 * np.pi * np.arange(n) / SAMPLE_RATE
    tones = sum(np.sin(f * t_phase + rng.uniform(0, 2 * np.pi)) for f in (p["hum_hz"], *p["tones"]))
    tones = tones * (0.15 * (1 + 0.5 * wander(rng, n, 0.3)))
    count = rng.poisson(p["clank_rate"] * seconds)
    clanks = impacts(n, rng.uniform(0, seconds, count), rng.uniform(1, 4, count),
                     ring([(rng.uniform(300, 2500), 0.03, 1.0), (rng.uniform(2500, 6000), 0.01, 0.5)], 0.15))
    return _unit(rumble + tones + clanks)



# ---------------------------------------------------------------------------------------------
# Machines and their conditions (domains)
# ---------------------------------------------------------------------------------------------

SPEED_SHIFT = (1.1, 1.25)  # the target domain runs this many times faster, or slower, than the source
SNR_STEP_DB = 6.0  # a target background moves the SNR this far towards the middle of the type's range
MIC_TILT_DB = (1.0, 2.0)  # a target microphone's spectral tilt, dB/octave, either sign
SHIFTS = ("background", "microphone", "background and microphone")  # what a target changes besides the speed


@dataclass(frozen=True)
class Condition:
    """How a section's machine runs and is recorded in one domain.

    speed: running speed, × the machine's own (source: 1); factory, snr_db: the background and the
    machine-to-background ratio; microphone: shape_spectrum arguments of the recording chain (None:
    the source's, flat); noise, mic: their names in the attributes ("A" and "1": the source's).
    """

    speed: float
    factory: dict
    snr_db: float
    microphone: dict | None
    noise: str
    mic: str


def _key(*parts) -> list[int]:
    """Stable integers for a SeedSequence from strings and ints (crc32, never Python's hash())."""
    return [p if isinstance(p, int) else zlib.crc32(str(p).encode()) for p in parts]


def _rng(seed: int, year: int, *parts) -> np.random.Generator:
    """The random stream of (seed, parts); editions keyed by year (Edition.synth_keyed_by_year: all but
    2020, whose streams keep the keys they had before other years were made) add their year."""
    prefix = (seed, year) if edition(year).synth_keyed_by_year else (seed,)
    return np.random.default_rng(np.random.SeedSequence(_key(*prefix, *parts)))


def vary(value, rng: np.random.Generator, spread: float):
    """A unit's `value` of its product's design: each float (in lists, tuples and arrays too) times
    exp(N(0, spread)); whole numbers (counts of blades, vanes, teeth) and other values as they are."""
    if isinstance(value, float):
        return value * float(np.exp(rng.normal(0, spread)))
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value * np.exp(rng.normal(0, spread, value.shape))
    if isinstance(value, (list, tuple)):
        return type(value)(vary(item, rng, spread) for item in value)
    if isinstance(value, dict):
        return {key: vary(item, rng, spread) for key, item in value.items()}
    return value


def product_params(seed: int, machine_type: str, year: int = 2020) -> dict:
    """The product every unit of a type is made from: its sound model's design, its factory (the
    background every unit is recorded in) and its machine-to-background ratio."""
    rng = _rng(seed, year, "product", machine_type)
    base = base_type(machine_type)
    return {"sound": MACHINES[base].params(rng), "factory": _factory_params(rng),
            "snr_db": float(rng.choice(SNR_CHOICES_DB[base]))}


def machine_params(seed: int, machine_type: str, section: str, year: int = 2020) -> dict:
    """The individual machine, a unit of its type's product (product_params): its sound-model
    parameters (the design's, varied by UNIT_SPREAD), mounting colouring, level, SNR and anomaly strength."""
    product = product_params(seed, machine_type, year)
    rng = _rng(seed, year, "machine", machine_type, section)
    return {"sound": vary(product["sound"], rng, UNIT_SPREAD), "factory": product["factory"],
            "mounting": colouring(rng, MOUNTING_DB),
            "level_db": TYPE_LEVEL_DB[base_type(machine_type)] + rng.uniform(-UNIT_LEVEL_DB, UNIT_LEVEL_DB),
            "snr_db": product["snr_db"] + rng.uniform(-UNIT_SNR_DB, UNIT_SNR_DB),
            "difficulty": rng.uniform(0.7, 1.3)}


def condition(seed: int, year: int, machine_type: str, section: str, domain: str, machine: dict) -> Condition:
    """The source condition (the machine as drawn) or the target one (see the module docstring)."""
    if domain == "source":
        return Condition(1.0, machine["factory"], machine["snr_db"], None, "A", "1")
    rng = _rng(seed, year, "target", machine_type, section)
    speed = float(rng.uniform(*SPEED_SHIFT) ** rng.choice([-1.0, 1.0]))
    shift = SHIFTS[rng.integers(len(SHIFTS))]
    factory, snr_db, noise_name, microphone, mic = machine["factory"], machine["snr_db"], "A", None, "1"
    if "background" in shift:
        middle = float(np.median(SNR_CHOICES_DB[base_type(machine_type)]))
        factory, noise_name = _factory_params(rng), "B"
        snr_db += SNR_STEP_DB if snr_db <= middle else -SNR_STEP_DB
    if "microphone" in shift:
        microphone = {"tilt_db_per_octave": rng.uniform(*MIC_TILT_DB) * rng.choice([-1.0, 1.0]),
                      "peaks": [(rng.uniform(2000, 6000), rng.uniform(800, 2000), rng.uniform(0.5, 1.5))]}
        mic = "2"
    return Condition(speed, factory, snr_db, microphone, noise_name, mic)


def attribute_text(ed: Edition, machine_type: str, machine: dict, setting: Condition) -> str:
    """The attribute part of a clip name: "speed_28_noise_A_mic_1" (2021), "vel_28_noise_A_mic_1" (2022 on,
    the type's own speed key and unit), or "noAttribute" where the edition hides them."""
    if machine_type in ed.no_attribute:
        return "noAttribute"
    model = MACHINES[base_type(machine_type)]
    key, text = model.rating
    speed = text(at_speed(machine["sound"], setting.speed, model.speed))
    return f"{ed.rules.speed_word or key}_{speed}_noise_{setting.noise}_mic_{setting.mic}"


# ---------------------------------------------------------------------------------------------
# One clip
# ---------------------------------------------------------------------------------------------

def clip_samples(year: int, machine_type: str) -> int:
    """Samples of one clip of a type in an edition (its row's clip length)."""
    return int(round(EDITIONS[year].seconds(machine_type) * SAMPLE_RATE))


def _fault(rng: np.random.Generator, machine_type: str, machine: dict, kind: str) -> tuple[str | None, float]:
    """(fault, severity) of a clip: (None, 0) unless kind is "anomaly"."""
    if kind != "anomaly":
        return None, 0.0
    base = base_type(machine_type)
    faults = MACHINES[base].faults
    return faults[rng.integers(len(faults))], ANOMALY_STRENGTH[base] * machine["difficulty"] * rng.uniform(0.6, 1.4)


def synthesize(seed: int, machine_type: str, section: str, kind: str, index: int,
               domain: str = "source", year: int = 2020) -> np.ndarray:
    """One clip as float32 in [-1, 1]. [shape=(samples,)]

    kind is "train", "normal" (normal test clip) or "anomaly"; or, as a 2025 supplemental clip,
    "machine" (the normal machine sound alone) or "noise" (the background alone), each at the
    level it has in a mixture. The clip depends only on the arguments.
    """
    machine = machine_params(seed, machine_type, section, year)
    setting = condition(seed, year, machine_type, section, domain, machine)
    rng = _rng(seed, year, "clip", machine_type, section, kind, index, *([domain] if domain != "source" else []))
    n = clip_samples(year, machine_type)
    model = MACHINES[base_type(machine_type)]
    anomaly, severity = _fault(rng, machine_type, machine, kind)
    speed = setting.speed * float(np.exp(rng.normal(0, CLIP_SPEED_SPREAD)))
    normal_part, extra = model.render(rng, n, at_speed(machine["sound"], speed, model.speed), anomaly, severity)
    load = colouring(rng, LOAD_DB, LOAD_TILT_DB)
    low_cut = RECORDING_LOW_CUT_HZ[base_type(machine_type)]
    sound = colour(normal_part / _rms(normal_part) + extra, machine["mounting"] + load, low_cut)
    background = colour(factory_noise(rng, n, setting.factory), colouring(rng, BACKGROUND_DB, BACKGROUND_TILT_DB), low_cut)
    noise_gain = 10 ** (-(setting.snr_db + rng.normal(0, CLIP_SNR_DB)) / 20)
    level = 10 ** ((machine["level_db"] + rng.normal(0, CLIP_LEVEL_DB)) / 20)
    parts = {"machine": sound, "noise": noise_gain * background}.get(kind, sound + noise_gain * background)
    mix = parts * (level / np.sqrt(1 + noise_gain**2))
    if setting.microphone is not None:
        mix = _rms(mix) * shape_spectrum(mix, **setting.microphone)
    return np.clip(mix, -1.0, 32767 / 32768).astype(np.float32)


@lru_cache(maxsize=None)
def expected_bytes(samples: int) -> int:
    """Size of a 16-bit mono WAV file of `samples` samples as written here."""
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(samples, dtype=np.float32), SAMPLE_RATE, subtype="PCM_16", format="WAV")
    return buffer.tell()


def write_wav(path: Path, y: np.ndarray) -> None:
    """Write 16 kHz 16-bit mono WAV atomically (helpers.fileio: temporary file, then rename)."""
    with atomic_path(path) as temporary:
        sf.write(str(temporary), y, SAMPLE_RATE, subtype="PCM_16", format="WAV")


@dataclass(frozen=True)
class Job:
    """One file to write: the clip's identity (domain, edition and name attributes from 2021 on) and its path."""

    machine_type: str
    section: str
    kind: str
    index: int
    path: Path
    domain: str = "source"
    year: int = 2020
    attributes: str = ""


def _run_job(job_and_seed: tuple[Job, int, bool]) -> int:
    """Write one clip (unless `keep` and it is already there at its size); returns bytes on disk."""
    job, seed, keep = job_and_seed
    size = expected_bytes(clip_samples(job.year, job.machine_type))
    if keep and job.path.is_file() and job.path.stat().st_size == size:
        return size
    write_wav(job.path, synthesize(seed, job.machine_type, job.section, job.kind, job.index, job.domain, job.year))
    return size


# ---------------------------------------------------------------------------------------------
# The dataset
# ---------------------------------------------------------------------------------------------

def _check(size: str, types, ed: Edition, eval_layout: bool) -> list[str]:
    """The machine types to write; ConfigError for an unknown preset or type, or an eval layout of
    an edition whose rules have none synthesised (Rules.synth_eval: 2020 only)."""
    if eval_layout and not ed.rules.synth_eval:
        years = ", ".join(str(e.year) for e in EDITIONS.values() if e.rules.synth_eval)
        raise ConfigError(f"the eval layout (unlabelled test clips and their ground truth) is synthesised for {years} "
                          f"only, not for {ed.year}; generate the {ed.year} development layout (eval_layout=False)")
    if size not in PRESETS:
        raise ConfigError(f"unknown synthetic data size {size!r}; accepted presets: {', '.join(PRESETS)}")
    chosen = list(ed.dev_types) if types is None else list(types)
    unknown = [t for t in chosen if t not in ed.dev_types]
    if unknown or not chosen:
        raise ConfigError(f"unknown machine type(s) {unknown or chosen} for {ed.name}; accepted: {', '.join(ed.dev_types)}")
    return chosen


def id_counts(size: str, machine_type: str, eval_layout: bool = False) -> dict[str, ClipCounts]:
    """Clip counts per machine ID for a 2020 preset; eval IDs borrow the counts of the dev ID at their position."""
    counts = PRESETS[size][machine_type]
    if not eval_layout:
        return dict(counts)
    dcase2020 = EDITIONS[2020]
    return {eval_id: counts[dev_id]
            for eval_id, dev_id in zip(dcase2020.eval_sections[machine_type], dcase2020.dev_sections[machine_type])}


def section_counts(size: str, year: int) -> DomainCounts:
    """Clip counts of each section of an edition from 2021 on (its rules' synth_section_counts), for a preset."""
    return DomainCounts(*edition(year).rules.synth_section_counts[size])


def _eval_order(seed: int, year: int, machine_type: str, section: str, counts: ClipCounts) -> list[tuple[str, int]]:
    """The labelled test clips of an eval ID in their shuffled eval order: [(label, original index)]."""
    clips = [("normal", i) for i in range(counts.test_normal)] + [("anomaly", i) for i in range(counts.test_anomaly)]
    rng = _rng(seed, year, "eval order", machine_type, section)
    return [clips[i] for i in rng.permutation(len(clips))]


def _plan_ids(out: Path, ed: Edition, size: str, seed: int, types: list[str],
              eval_layout: bool) -> tuple[list[Job], list[str]]:
    """The files to write of an edition whose counts are per machine ID (2020: PRESETS), and the
    ground-truth lines of the eval test clips (empty for dev)."""
    jobs, truth = [], []
    name = ed.rules.clip_name
    for machine_type in types:
        folder = out / machine_type
        truth.append(machine_type)
        for section, counts in id_counts(size, machine_type, eval_layout).items():
            jobs += [Job(machine_type, section, "train", i, folder / "train" / name(section, i, "train", "normal"))
                     for i in range(counts.train)]
            if eval_layout:
                for eval_index, (label, index) in enumerate(_eval_order(seed, ed.year, machine_type, section, counts)):
                    eval_name = name(section, eval_index, "test", None)
                    jobs.append(Job(machine_type, section, label, index, folder / "test" / eval_name))
                    truth.append(f"{eval_name},{name(section, index, 'test', label)},{int(label == 'anomaly')}")
            else:
                jobs += [Job(machine_type, section, label, i, folder / "test" / name(section, i, "test", label))
                         for label, count in (("normal", counts.test_normal), ("anomaly", counts.test_anomaly))
                         for i in range(count)]
    return jobs, truth if eval_layout else []


def _folder(ed: Edition, split: str, domain: str) -> str:
    """The folder under <type>/ holding a split's clips of a domain (2021: source_test or target_test)."""
    return next(name for name, required in ed.folders(split).items() if required in (None, domain))


def _section_jobs(out: Path, ed: Edition, seed: int, machine_type: str, section: str, counts: DomainCounts) -> list[Job]:
    """The clips of one section from 2021 on: per domain, its training, normal and anomalous test clips."""
    machine = machine_params(seed, machine_type, section, ed.year)
    jobs = []
    for domain in DOMAINS:
        attributes = attribute_text(ed, machine_type, machine, condition(seed, ed.year, machine_type, section, domain, machine))
        for split, label, count in counts.groups(domain):
            folder = out / machine_type / _folder(ed, split, domain)
            kind = "train" if split == "train" else label
            jobs += [Job(machine_type, section, kind, i,
                         folder / ed.rules.clip_name(section, i, split, label, domain, attributes),
                         domain, ed.year, attributes) for i in range(count)]
    return jobs


def plan(out: Path, size: str, seed: int, types: list[str], eval_layout: bool, year: int = 2020) -> tuple[list[Job], list[str]]:
    """Every file to write, and the ground-truth lines of the eval test clips (2020 eval layout; else empty)."""
    ed = edition(year)
    if ed.rules.synth_section_counts is None:
        return _plan_ids(out, ed, size, seed, types, eval_layout)
    counts = section_counts(size, ed.year)
    return [job for t in types for s in ed.dev_sections[t] for job in _section_jobs(out, ed, seed, t, s, counts)], []


def supplemental_jobs(out: Path, size: str, types: list[str], ed: Edition) -> list[Job]:
    """The clean machine and noise clips of each type's supplemental/ folder (Edition.synth_supplemental;
    [] for an edition without), named section_00_<kind>_source_NNNN_noAttribute.wav."""
    if ed.synth_supplemental is None:
        return []
    counts = dict(zip(SUPPLEMENTAL_KINDS, ed.synth_supplemental[size]))
    return [Job(t, section, kind, i, out / t / SUPPLEMENTAL / f"section_{section}_{kind}_source_{i:04d}_noAttribute.wav",
                "source", ed.year) for t in types for section in ed.dev_sections[t][:1]
            for kind, count in counts.items() for i in range(count)]


def _attribute_cells(attributes: str) -> list[str]:
    """An attribute part as CSV cells d1p, d1v, d2p, ...: "vel_28_noise_A" -> [vel, 28, noise, A];
    "noAttribute" -> [noAttribute, ""]."""
    return [attributes, ""] if attributes == "noAttribute" else attributes.split("_")


def attribute_tables(out: Path, jobs: list[Job]) -> dict[Path, str]:
    """The text of each <type>/attributes_XX.csv (2022 on): a file_name,d1p,d1v,... header, then one row
    per clip of the section, file_name as <type>/<train|test>/<clip name>."""
    rows: dict[Path, list[list[str]]] = {}
    for job in jobs:
        rows.setdefault(out / job.machine_type / f"attributes_{job.section}.csv", []).append(
            [f"{job.machine_type}/{job.path.parent.name}/{job.path.name}", *_attribute_cells(job.attributes)])
    tables = {}
    for path, table in rows.items():
        width = max(len(row) for row in table)
        header = ["file_name", *(f"d{i}{part}" for i in range(1, width // 2 + 1) for part in "pv")]
        tables[path] = "\n".join(",".join(row + [""] * (width - len(row))) for row in [header, *table]) + "\n"
    return tables


def _same_run(out: Path, manifest: dict) -> bool:
    try:
        return json.loads((out / MANIFEST).read_text()) == manifest
    except (OSError, ValueError):
        return False


def _write_clips(jobs: list[Job], seed: int, keep: bool, workers: int, description: str, progress: bool) -> list[int]:
    """Write every job's clip (workers processes; 1: in this one); the bytes of each on disk."""
    tasks = [(job, seed, keep) for job in jobs]
    sizes = []
    with (tqdm(total=len(tasks), desc=description, unit="clip", disable=not progress) as bar,
          ProcessPoolExecutor(workers) if workers > 1 else contextlib.nullcontext() as pool):
        for clip_bytes in pool.map(_run_job, tasks, chunksize=8) if pool else map(_run_job, tasks):
            sizes.append(clip_bytes)
            bar.update()
    return sizes


def _clip_counts(jobs: list[Job], types: list[str], ed: Edition) -> dict:
    """{type: {"train": n, "test_normal": n, "test_anomaly": n}}; where the edition's rules have two
    domains (2021 on) also the same per domain under "source" and "target"."""
    def empty() -> dict:
        return {"train": 0, "test_normal": 0, "test_anomaly": 0}

    per_domain = len(ed.rules.domains) > 1
    clips = {t: empty() | ({d: empty() for d in ed.rules.domains} if per_domain else {}) for t in types}
    for job in jobs:
        key = "train" if job.kind == "train" else f"test_{job.kind}"
        clips[job.machine_type][key] += 1
        if per_domain:
            clips[job.machine_type][job.domain][key] += 1
    return clips


def generate(out, size: str = "small", seed: int = 0, types=None, eval_layout: bool = False,
             workers: int | None = None, progress: bool = True, year: int = 2020) -> dict:
    """Write a synthetic dataset in the layout of DCASE `year` (2020-2026) under `out`; return a summary.

    2020 dev layout (default): ``out/<type>/train/normal_id_XX_*.wav`` and
    ``out/<type>/test/{normal,anomaly}_id_XX_*.wav`` for the development IDs.
    2020 eval layout (eval_layout=True): `out` is the eval root: ``out/<type>/train/normal_id_XX_*.wav``
    (additional training data) and unlabelled ``out/<type>/test/id_XX_*.wav`` for the eval IDs, plus
    the hidden labels in ``out/eval_data_list.csv`` in the published DCASE format (a machine-type
    line, then ``eval_file_name,original_file_name,label`` rows). Other years: ConfigError.
    2021-2026: the edition's development layout (its types and sections, source and target domains,
    attributes in the names; 2022 on also ``out/<type>/attributes_XX.csv``), see the module docstring.
    Every root gets ``out/.dcase_year`` (helpers.data.layout.YEAR_FILE) naming the year.
    size: a preset (tiny, small, medium, full: PRESETS for 2020, the rules' synth_section_counts after); types: machine
    types of the edition's development set (default all); workers: processes (default
    os.cpu_count()). Re-running with the same seed keeps the files already written (see the module
    docstring).
    2025 also writes each type's ``supplemental/`` clips: clean machine sound and noise alone.
    Summary: {"year": y, "clips": {type: {"train": n, "test_normal": n, "test_anomaly": n}, and from 2021
    on the same per domain under "source" and "target"}, "supplemental": {type: {"machine": n,
    "noise": n}} (2025; else {}), "files": n, "bytes": n, "seconds": s,
    "out": path, "ground_truth": path or None, "attributes": [attributes_XX.csv paths]}.
    """
    ed = edition(year)
    chosen = _check(size, types, ed, eval_layout)
    out = Path(out)
    started = time.perf_counter()
    jobs, truth = plan(out, size, seed, chosen, eval_layout, ed.year)
    extra = [] if eval_layout else supplemental_jobs(out, size, chosen, ed)
    for folder in {job.path.parent for job in jobs + extra}:
        folder.mkdir(parents=True, exist_ok=True)
    manifest = {"seed": seed, "generator_version": GENERATOR_VERSION} | ({"year": ed.year} if ed.synth_keyed_by_year else {})
    keep = _same_run(out, manifest)
    atomic_write_text(out / MANIFEST, json.dumps(manifest))
    atomic_write_text(out / YEAR_FILE, f"{ed.year}\n")
    sizes = _write_clips(jobs + extra, seed, keep, max(1, workers or os.cpu_count() or 1), f"synth {ed.year} {size}",
                         progress)
    ground_truth = atomic_write_text(out / groundtruth.FILE_NAME, "\n".join(truth) + "\n") if eval_layout else None
    tables = attribute_tables(out, jobs) if ed.rules.attribute_tables else {}
    attributes = [str(atomic_write_text(path, text)) for path, text in tables.items()]
    supplemental = {t: {k: sum(j.machine_type == t and j.kind == k for j in extra) for k in SUPPLEMENTAL_KINDS}
                    for t in chosen} if extra else {}
    return {"year": ed.year, "clips": _clip_counts(jobs, chosen, ed), "supplemental": supplemental,
            "files": len(jobs) + len(extra), "bytes": int(sum(sizes)),
            "seconds": round(time.perf_counter() - started, 2), "out": str(out),
            "ground_truth": str(ground_truth) if ground_truth else None, "attributes": attributes}
