"""A synthetic dataset of the DCASE 2020 Task 2 shape, with machine sounds built from how the
machines work.

Each machine type has a sound model (rotating blades, a pump's motor and vanes, a linear slide's
strokes, a solenoid valve's clicks, a toy car's motor and gears, a toy conveyor's belt), mixed
with factory background noise at a per-ID signal-to-noise ratio (MIMII mixed factory noise at
-6, 0 and 6 dB). Each machine ID has its own speed, resonances, level and background; normal
clips vary within an ID (speed wobble, level, noise). Anomalous clips carry one of the faults
real machines of that type have, at a subtle strength.

Determinism: every random choice comes from a numpy SeedSequence of (seed, type, ID, ...), so a
seed gives the same bytes whatever the number of workers. A run records its seed in
``<out>/.synth.json``; when the folder already holds files from the same seed and generator
version, files of the expected size are kept, which makes re-running into a complete folder
cheap (and resumes an interrupted run). Files are written atomically (temporary name, then
os.replace). Files from another run that do not belong to this preset are left in place.
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

import numpy as np
import soundfile as sf
from scipy import fft
from scipy.signal import fftconvolve
from tqdm.auto import tqdm

from helpers import groundtruth
from helpers.errors import ConfigError
from helpers.fileio import atomic_path, atomic_write_text
from helpers.layout import CLIP_SECONDS, DEV_IDS, EDITIONS, EVAL_IDS, MACHINE_TYPES, SAMPLE_RATE

GENERATOR_VERSION = 1
MANIFEST = ".synth.json"


@dataclass(frozen=True)
class ClipCounts:
    """Clips of one machine ID: normal training clips, normal and anomalous test clips."""

    train: int
    test_normal: int
    test_anomaly: int

    @property
    def total(self) -> int:
        return self.train + self.test_normal + self.test_anomaly


def _uniform_counts(train: int, test_normal: int, test_anomaly: int) -> dict:
    counts = ClipCounts(train, test_normal, test_anomaly)
    return {t: {i: counts for i in DEV_IDS[t]} for t in MACHINE_TYPES}


# The DCASE 2020 Task 2 development set, per ID: (train, test normal, test anomaly); 30,987 clips.
_FULL = {
    "ToyCar": {"01": (1000, 350, 263), "02": (1000, 350, 265), "03": (1000, 350, 265), "04": (1000, 350, 266)},
    "ToyConveyor": {"01": (1000, 800, 355), "02": (1000, 800, 400), "03": (1000, 800, 354)},
    "fan": {"00": (911, 100, 407), "02": (916, 100, 359), "04": (933, 100, 348), "06": (915, 100, 361)},
    "pump": {"00": (906, 100, 143), "02": (905, 100, 111), "04": (602, 100, 100), "06": (936, 100, 102)},
    "slider": {"00": (968, 100, 356), "02": (968, 100, 267), "04": (434, 100, 178), "06": (434, 100, 89)},
    "valve": {"00": (891, 100, 119), "02": (608, 100, 120), "04": (900, 100, 120), "06": (892, 100, 120)},
}

# Clip counts per preset, machine type and development ID. An eval ID takes the counts of the
# development ID at the same position (ToyCar 05 as 01, fan 01 as 00, ...).
PRESETS: dict[str, dict[str, dict[str, ClipCounts]]] = {
    "tiny": _uniform_counts(3, 2, 2),
    "small": _uniform_counts(55, 25, 25),
    "medium": _uniform_counts(250, 50, 50),
    "full": {t: {i: ClipCounts(*c) for i, c in ids.items()} for t, ids in _FULL.items()},
}

# Level of each type in dBFS (RMS), as in the real DCASE 2020 clips (slider: like the other MIMII types).
TYPE_LEVEL_DB = {"ToyCar": -34.0, "ToyConveyor": -23.5, "fan": -38.5, "pump": -39.0, "slider": -38.5, "valve": -38.5}

# Machine-to-factory-noise ratios an ID draws from, in dB (MIMII mixed at -6, 0 and 6 dB; the real
# valve clips are mostly background between the clicks).
SNR_CHOICES_DB = {t: (6.0, 3.0, 0.0, -3.0, -6.0) for t in MACHINE_TYPES} | {"valve": (-3.0, -6.0, -9.0)}

# Overall anomaly strength per type (scales every fault's severity).
ANOMALY_STRENGTH = {"ToyCar": 2.6, "ToyConveyor": 1.0, "fan": 1.0, "pump": 0.65, "slider": 1.0, "valve": 2.0}


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


# ---------------------------------------------------------------------------------------------
# Machine models: per-ID parameters, and one clip's sound (normal part, anomalous additions)
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
        blade_pass *= 1 + 0.25 * severity * np.sin(shaft)
        extra += 0.25 * severity * harmonics(shaft, [1.0, 0.4], rng)
    elif anomaly == "contamination":
        band = rng.uniform(800, 3000)
        extra += 0.3 * severity * noise(rng, n, low_cut=band / 2, high_cut=band * 2) * (1 + 0.5 * wander(rng, n, 3))
    elif anomaly == "blade_damage":
        damaged = pulses(shaft + rng.uniform(0, 2 * np.pi), 8.0)
        extra += 0.35 * severity * shape_spectrum(blade_pass * damaged, peaks=p["housing"])
        extra += 0.15 * severity * impacts(n, np.cumsum(np.full(int(seconds * p["shaft_hz"]) + 1, 1 / p["shaft_hz"])),
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
        extra += 0.3 * severity * hiss * np.clip(1 + 0.8 * wander(rng, n, 0.7), 0, None)
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
        extra += 1.2 * severity * impacts(n, crossings, 1.0, ring([(rng.uniform(1500, 3500), 0.004, 1.0), (600, 0.01, 0.5)]))
    elif anomaly == "no_grease":
        squeal_hz = rng.uniform(1500, 3500) * (1 + 0.02 * wander(rng, n, 4))
        squeal = np.sin(phase_of(squeal_hz, n, rng)) * speed**2
        extra += 0.3 * severity * (squeal + friction * 0.8)
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
        extra += 0.3 * severity * flow_noise * ~is_open
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
        extra += 0.6 * severity * noise(rng, n, tilt_db_per_octave=-3, low_cut=150) * _unit(segment) * 0.5
    elif anomaly == "foreign_object":
        count = rng.poisson(12 * seconds / 10) + 1
        times = rng.uniform(0, seconds, count)
        extra += 0.8 * severity * impacts(n, times, rng.uniform(0.5, 1.0, count),
                                          ring([(rng.uniform(1500, 3500), 0.005, 1.0), (rng.uniform(300, 700), 0.01, 0.5)]))
    return hum + rumble + joint_ticks, extra


MACHINES = {
    "fan": (_fan_params, _fan, ("imbalance", "contamination", "blade_damage")),
    "pump": (_pump_params, _pump, ("leakage", "clogging")),
    "slider": (_slider_params, _slider, ("rail_damage", "no_grease")),
    "valve": (_valve_params, _valve, ("contamination", "irregular_timing")),
    "ToyCar": (_toycar_params, _toycar, ("bent_shaft", "deformed_gear", "tyre_damage")),
    "ToyConveyor": (_toyconveyor_params, _toyconveyor, ("belt_damage", "foreign_object")),
}


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
# One clip
# ---------------------------------------------------------------------------------------------

def _key(*parts) -> list[int]:
    """Stable integers for a SeedSequence from strings and ints (crc32, never Python's hash())."""
    return [p if isinstance(p, int) else zlib.crc32(str(p).encode()) for p in parts]


def machine_params(seed: int, machine_type: str, section: str) -> dict:
    """The individual machine: its sound-model parameters, level, SNR, anomaly strength and factory."""
    rng = np.random.default_rng(np.random.SeedSequence(_key(seed, "machine", machine_type, section)))
    params_of, _, _ = MACHINES[machine_type]
    return {"sound": params_of(rng), "factory": _factory_params(rng),
            "level_db": TYPE_LEVEL_DB[machine_type] + rng.uniform(-1.5, 1.5),
            "snr_db": float(rng.choice(SNR_CHOICES_DB[machine_type])),
            "difficulty": rng.uniform(0.7, 1.3)}


def synthesize(seed: int, machine_type: str, section: str, kind: str, index: int) -> np.ndarray:
    """One clip as float32 in [-1, 1]. [shape=(samples,)]

    kind is "train", "normal" (normal test clip) or "anomaly"; the clip depends only on the arguments.
    """
    machine = machine_params(seed, machine_type, section)
    rng = np.random.default_rng(np.random.SeedSequence(_key(seed, "clip", machine_type, section, kind, index)))
    n = int(round(CLIP_SECONDS[machine_type] * SAMPLE_RATE))
    _, render, faults = MACHINES[machine_type]
    anomaly, severity = None, 0.0
    if kind == "anomaly":
        anomaly = faults[rng.integers(len(faults))]
        severity = ANOMALY_STRENGTH[machine_type] * machine["difficulty"] * rng.uniform(0.6, 1.4)
    normal_part, extra = render(rng, n, machine["sound"], anomaly, severity)
    sound = normal_part / _rms(normal_part) + extra
    background = factory_noise(rng, n, machine["factory"])
    noise_gain = 10 ** (-machine["snr_db"] / 20)
    level = 10 ** ((machine["level_db"] + rng.normal(0, 0.4)) / 20)
    mix = (sound + noise_gain * background) * (level / np.sqrt(1 + noise_gain**2))
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
    """One file to write: the clip's identity and its path."""

    machine_type: str
    section: str
    kind: str
    index: int
    path: Path


def _run_job(job_and_seed: tuple[Job, int, bool]) -> int:
    """Write one clip (unless `keep` and it is already there at its size); returns bytes on disk."""
    job, seed, keep = job_and_seed
    size = expected_bytes(int(round(CLIP_SECONDS[job.machine_type] * SAMPLE_RATE)))
    if keep and job.path.is_file() and job.path.stat().st_size == size:
        return size
    write_wav(job.path, synthesize(seed, job.machine_type, job.section, job.kind, job.index))
    return size


# ---------------------------------------------------------------------------------------------
# The dataset
# ---------------------------------------------------------------------------------------------

def _check(size: str, types) -> list[str]:
    if size not in PRESETS:
        raise ConfigError(f"unknown synthetic data size {size!r}; accepted presets: {', '.join(PRESETS)}")
    chosen = list(MACHINE_TYPES) if types is None else list(types)
    unknown = [t for t in chosen if t not in MACHINE_TYPES]
    if unknown or not chosen:
        raise ConfigError(f"unknown machine type(s) {unknown or chosen}; accepted: {', '.join(MACHINE_TYPES)}")
    return chosen


def id_counts(size: str, machine_type: str, eval_layout: bool = False) -> dict[str, ClipCounts]:
    """Clip counts per machine ID for a preset; eval IDs borrow the counts of the dev ID at their position."""
    counts = PRESETS[size][machine_type]
    if not eval_layout:
        return dict(counts)
    return {eval_id: counts[dev_id] for eval_id, dev_id in zip(EVAL_IDS[machine_type], DEV_IDS[machine_type])}


def _eval_order(seed: int, machine_type: str, section: str, counts: ClipCounts) -> list[tuple[str, int]]:
    """The labelled test clips of an eval ID in their shuffled eval order: [(label, original index)]."""
    clips = [("normal", i) for i in range(counts.test_normal)] + [("anomaly", i) for i in range(counts.test_anomaly)]
    rng = np.random.default_rng(np.random.SeedSequence(_key(seed, "eval order", machine_type, section)))
    return [clips[i] for i in rng.permutation(len(clips))]


def plan(out: Path, size: str, seed: int, types: list[str], eval_layout: bool) -> tuple[list[Job], list[str]]:
    """Every file to write, and the ground-truth lines of the eval test clips (empty for dev)."""
    jobs, truth = [], []
    for machine_type in types:
        folder = out / machine_type
        truth.append(machine_type)
        for section, counts in id_counts(size, machine_type, eval_layout).items():
            jobs += [Job(machine_type, section, "train", i, folder / "train" / EDITIONS[2020].clip_name(section, i, "train", "normal"))
                     for i in range(counts.train)]
            if eval_layout:
                for eval_index, (label, index) in enumerate(_eval_order(seed, machine_type, section, counts)):
                    name = EDITIONS[2020].clip_name(section, eval_index, "test", None)
                    jobs.append(Job(machine_type, section, label, index, folder / "test" / name))
                    truth.append(f"{name},{EDITIONS[2020].clip_name(section, index, 'test', label)},{int(label == 'anomaly')}")
            else:
                jobs += [Job(machine_type, section, label, i, folder / "test" / EDITIONS[2020].clip_name(section, i, "test", label))
                         for label, count in (("normal", counts.test_normal), ("anomaly", counts.test_anomaly))
                         for i in range(count)]
    return jobs, truth if eval_layout else []


def _same_run(out: Path, manifest: dict) -> bool:
    try:
        return json.loads((out / MANIFEST).read_text()) == manifest
    except (OSError, ValueError):
        return False


def generate(out, size: str = "small", seed: int = 0, types=None, eval_layout: bool = False,
             workers: int | None = None, progress: bool = True) -> dict:
    """Write a synthetic dataset of the DCASE 2020 Task 2 shape under `out`; return a summary.

    Dev layout (default): ``out/<type>/train/normal_id_XX_*.wav`` and
    ``out/<type>/test/{normal,anomaly}_id_XX_*.wav`` for the development IDs.
    Eval layout (eval_layout=True): `out` is the eval root: ``out/<type>/train/normal_id_XX_*.wav``
    (additional training data) and unlabelled ``out/<type>/test/id_XX_*.wav`` for the eval IDs, plus
    the hidden labels in ``out/eval_data_list.csv`` in the published DCASE format (a machine-type
    line, then ``eval_file_name,original_file_name,label`` rows).
    size: a key of PRESETS (tiny, small, medium, full); types: machine types (default all six);
    workers: processes (default os.cpu_count()). Re-running with the same seed keeps the files
    already written (see the module docstring).
    Summary: {"clips": {type: {"train": n, "test_normal": n, "test_anomaly": n}}, "files": n,
    "bytes": n, "seconds": s, "out": path, "ground_truth": path or None}.
    """
    chosen = _check(size, types)
    out = Path(out)
    started = time.perf_counter()
    jobs, truth = plan(out, size, seed, chosen, eval_layout)
    for folder in {job.path.parent for job in jobs}:
        folder.mkdir(parents=True, exist_ok=True)
    manifest = {"seed": seed, "generator_version": GENERATOR_VERSION}
    keep = _same_run(out, manifest)
    (out / MANIFEST).write_text(json.dumps(manifest))
    tasks = [(job, seed, keep) for job in jobs]
    workers = max(1, workers or os.cpu_count() or 1)
    sizes = []
    with (tqdm(total=len(tasks), desc=f"synth {size}", unit="clip", disable=not progress) as bar,
          ProcessPoolExecutor(workers) if workers > 1 else contextlib.nullcontext() as pool):
        for clip_bytes in pool.map(_run_job, tasks, chunksize=8) if pool else map(_run_job, tasks):
            sizes.append(clip_bytes)
            bar.update()
    ground_truth = None
    if eval_layout:
        ground_truth = atomic_write_text(out / groundtruth.FILE_NAME, "\n".join(truth) + "\n")
    clips = {t: {"train": 0, "test_normal": 0, "test_anomaly": 0} for t in chosen}
    for job in jobs:
        clips[job.machine_type]["train" if job.kind == "train" else f"test_{job.kind}"] += 1
    return {"clips": clips, "files": len(jobs), "bytes": int(sum(sizes)), "seconds": round(time.perf_counter() - started, 2),
            "out": str(out), "ground_truth": str(ground_truth) if ground_truth else None}
