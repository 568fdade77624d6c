"""Soak check: the headline command, headless, many times over awkward data; every run must end.

    python benchmarks/headless_soak.py [--repeats 5] [--solution pytorch] [--epochs 2]

Three data folders, made under the cache's soak/ work folder (helpers.data.cache; DCASE_CACHE_DIR moves it):
- synthetic: the tiny synthetic preset, fan and valve;
- broken: tiny synthetic fan plus every kind of bad file (corrupt, empty, header without
  samples, too short, misnamed, 8 channels, 44.1 kHz, stray non-audio files) and an ID whose
  test set holds no anomalies;
- real: the real DCASE clips of ../shared/real_samples (test folders as they are; their normal
  clips, a copy of one as 8 channels, as the training set).
Each repeat runs ``python -m helpers run`` on each folder in a fresh process with --retrain, under
a wall-clock limit of its own (--limit, far above a normal run) so that a hang shows as
"hung" instead of stopping this script. Prints, per folder, how many runs ended well, failed or
hung, and the median and slowest seconds of each notebook; exits 1 if any run did not end well.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "real_samples"
NOTEBOOK_TIME = re.compile(r"running \S+/(\S+\.ipynb) as \S+ \.\.\. ([\d.]+) s")


def _bad_files(folder: Path, rng) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "normal_id_00_00000090.wav").write_bytes(rng.bytes(4000))  # corrupt
    (folder / "normal_id_00_00000091.wav").write_bytes(b"")  # empty
    sf.write(folder / "normal_id_00_00000092.wav", np.zeros((0, 1)), 16_000, subtype="PCM_16")  # no samples
    sf.write(folder / "normal_id_00_00000093.wav", 0.05 * rng.standard_normal(800), 16_000)  # too short
    sf.write(folder / "recording_001.wav", 0.05 * rng.standard_normal(16_000), 16_000)  # misnamed
    for stray in ("notes.txt", ".DS_Store", "spectrogram.png"):
        (folder / stray).write_bytes(b"not audio")


def make_data(work: Path) -> dict[str, Path]:
    """The three data folders (made once)."""
    from helpers.data import synth

    folders = {name: work / name for name in ("synthetic", "broken", "real")}
    if not folders["synthetic"].is_dir():
        synth.generate(folders["synthetic"], size="tiny", seed=0, types=["fan", "valve"], progress=False)
    if not folders["broken"].is_dir():
        rng = np.random.default_rng(0)
        shutil.copytree(folders["synthetic"] / "fan", folders["broken"] / "fan")
        for anomaly in (folders["broken"] / "fan" / "test").glob("anomaly_id_04_*.wav"):
            anomaly.unlink()
        train = folders["broken"] / "fan" / "train"
        _bad_files(train, rng)
        _bad_files(folders["broken"] / "fan" / "test", rng)
        sf.write(train / "normal_id_02_00000094.wav", 0.05 * rng.standard_normal((160_000, 8)), 16_000)
        sf.write(train / "normal_id_02_00000095.wav", 0.05 * rng.standard_normal(441_000), 44_100)
    if not folders["real"].is_dir():
        for test in sorted(REAL.glob("*/test")):
            target = folders["real"] / test.parent.name
            shutil.copytree(test, target / "test")
            (target / "train").mkdir()
            for number, clip in enumerate(sorted(test.glob("normal_*.wav"))):
                shutil.copy(clip, target / "train" / re.sub(r"_\d{8}\.wav$", f"_{90 + number:08d}.wav", clip.name))
            audio, rate = sf.read(clip)
            sf.write(target / "train" / re.sub(r"_\d{8}\.wav$", "_00000099.wav", clip.name),
                     np.repeat(audio[:, None], 8, axis=1), rate, subtype="PCM_16")
    return folders


def run_once(data: Path, result: Path, solution: str, epochs: int, limit: float) -> tuple[str, dict, float]:
    """('ok' | 'failed' | 'hung', seconds per notebook, wall seconds) of one headline command."""
    command = [sys.executable, "-m", "helpers", "run", "--solution", solution, "--dev-data", str(data),
               "--result-dir", str(result), "--epochs", str(epochs), "--retrain"]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                             start_new_session=True)  # its own process group: a hang is stopped whole
    try:
        stdout, stderr = child.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        return "hung", {}, time.perf_counter() - started
    seconds = {name: float(s) for name, s in NOTEBOOK_TIME.findall(stdout)}
    if child.returncode != 0:
        print(stderr.strip().splitlines()[-1] if stderr.strip() else "(no error output)", flush=True)
    return ("ok" if child.returncode == 0 else "failed"), seconds, time.perf_counter() - started


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per data folder (default: 5)")
    parser.add_argument("--solution", default="pytorch", help="solution to run (default: pytorch)")
    parser.add_argument("--epochs", type=int, default=2, help="training epochs (default: 2)")
    parser.add_argument("--limit", type=float, default=900, help="seconds after which a run counts as hung")
    args = parser.parse_args(argv)

    from helpers.data import cache

    work = cache.work_folder("soak")
    folders = make_data(work)
    outcomes, times, walls = defaultdict(list), defaultdict(lambda: defaultdict(list)), defaultdict(list)
    for repeat in range(args.repeats):
        for name, data in folders.items():
            outcome, seconds, wall = run_once(data, work / "result" / name, args.solution, args.epochs, args.limit)
            outcomes[name].append(outcome)
            walls[name].append(wall)
            for notebook, value in seconds.items():
                times[name][notebook].append(value)
            print(f"repeat {repeat + 1}/{args.repeats} {name}: {outcome} in {wall:.0f} s", flush=True)

    print(f"\n{args.solution}, {args.epochs} epochs, {args.repeats} runs per folder "
          f"(seconds per notebook: median / slowest)")
    for name in folders:
        counts = {o: outcomes[name].count(o) for o in ("ok", "failed", "hung")}
        per_notebook = ", ".join(f"{nb.split('-')[0]} {statistics.median(v):.1f}/{max(v):.1f}"
                                 for nb, v in times[name].items())
        print(f"  {name:9s} ok {counts['ok']}, failed {counts['failed']}, hung {counts['hung']}; "
              f"whole command {statistics.median(walls[name]):.0f} s; {per_notebook}")
    return 0 if all(o == "ok" for runs in outcomes.values() for o in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
