"""The documentation site (mkdocs.yml, docs/, its hooks in docs/hooks/): it builds in strict mode,
so a broken link, a page missing from the navigation or a docstring that does not render fails
here; a deliberately broken link fails the build, naming the page and the link; the settings
reference lists every setting of the schema, the API reference has a page for every module of
the package (found by walking its folders), the command-line reference every command, and a
notebook page shows what an executed notebook drew. No notebook is executed."""
from __future__ import annotations

import base64
import importlib.util
import json
import os
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _hooks_common():
    """docs/hooks/_common.py, whose helpers_module finds a module of the package wherever it sits."""
    spec = importlib.util.spec_from_file_location("docs_hooks_common", ROOT / "docs" / "hooks" / "_common.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


helpers_module = _hooks_common().helpers_module
config = helpers_module("config")
# a 1x1 PNG: the figure of the executed notebook made up below
PIXEL = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
SOUND = b"RIFF" + bytes(40)  # stands for the WAV bytes of an audio player


def build(config_file: Path, site: Path, result: Path) -> subprocess.CompletedProcess:
    """`mkdocs build --strict` of `config_file` into `site`, the notebook pages taken from `result`."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "DCASE_DOCS_RESULT_DIR": str(result)}
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config_file), "-d", str(site)],
                          cwd=config_file.parent, env=env, capture_output=True, text=True, timeout=600)


def package_modules(folder: Path = ROOT / "helpers", prefix: str = "helpers") -> list[tuple[str, bool]]:
    """(dotted name, is a package) of every module under the package's folder, nothing imported."""
    found = []
    for info in pkgutil.iter_modules([str(folder)]):
        name = f"{prefix}.{info.name}"
        found.append((name, info.ispkg))
        if info.ispkg:
            found += package_modules(folder / info.name, name)
    return found


def executed_copy(result: Path) -> None:
    """pytorch's test notebook as a run would leave it: papermill's metadata, a printed line, a figure and an
    audio player."""
    notebook = json.loads((ROOT / "notebooks" / "pytorch" / "01-test.ipynb").read_text())
    notebook["metadata"]["papermill"] = {"parameters": {"RUN_NAME": "pytorch"}, "duration": 3.5,
                                         "end_time": "2026-01-02T03:04:05.000000+00:00"}
    code = next(cell for cell in notebook["cells"] if cell["cell_type"] == "code")
    code["outputs"] = [
        {"output_type": "stream", "name": "stdout", "text": ["official score over every machine type: 0.7321\n"]},
        {"output_type": "display_data", "metadata": {},
         "data": {"image/png": base64.b64encode(PIXEL).decode(), "text/plain": ["<Figure>"]}},
        {"output_type": "display_data", "metadata": {},  # as IPython.display.Audio writes a player
         "data": {"text/html": [f'<audio controls="controls"><source src="data:audio/x-wav;base64,'
                                f'{base64.b64encode(SOUND).decode()}" type="audio/x-wav" /></audio>'],
                  "text/plain": ["<IPython.lib.display.Audio object>"]}},
    ]
    target = result / "pytorch" / "notebooks" / "01-test.ipynb"
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps(notebook))


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site as `make docs` builds it, with one executed notebook in the result folder."""
    result = tmp_path_factory.mktemp("result")
    executed_copy(result)
    site = tmp_path_factory.mktemp("site")
    run = build(ROOT / "mkdocs.yml", site, result)
    log = run.stdout + run.stderr
    assert run.returncode == 0, f"the strict docs build failed:\n{log}"
    assert "WARNING" not in log and "ERROR" not in log, log
    return site


def test_site_builds_strict(site):
    for page in ("index.html", "getting-started.html", "your-own-solution.html", "command-line.html",
                 "settings.html", "data.html", "solutions.html", "performance.html", "cache.html",
                 "regression.html", "tests.html", "notebooks/index.html", "solutions/index.html", "reference/index.html"):
        assert (site / page).is_file(), page


def test_settings_reference_lists_every_setting(site):
    page = (site / "settings.html").read_text()
    for section, keys in config.SCHEMA.items():
        for name in keys:
            assert f"<code>{section}.{name}</code>" in page, f"{section}.{name} missing from the settings reference"
    for key in [*config.TOP_LEVEL, *(f"notebook.{k}" for k in config.NOTEBOOK)]:
        assert f"<code>{key}</code>" in page, f"{key} missing from the settings reference"


def test_api_reference_has_a_page_for_every_module(site):
    modules = [(name, is_package) for name, is_package in package_modules() if not name.endswith(".__main__")]
    assert len(modules) > 20
    index = (site / "reference" / "index.html").read_text()
    for name, is_package in modules:
        parts = name.split(".")[1:]
        page = site / "reference" / Path(*parts) / "index.html" if is_package else \
            site / "reference" / Path(*parts[:-1]) / f"{parts[-1]}.html"
        assert page.is_file(), f"no API reference page for {name} ({page})"
        assert f'id="{name}"' in page.read_text(), f"{page} does not document {name}"
        assert f"<code>{name}</code>" in index, f"{name} missing from the API reference's index"


def test_command_line_reference_has_every_command(site):
    page = (site / "command-line.html").read_text()
    commands = next(a for a in helpers_module("cli").build_parser()._actions if a.dest == "command").choices
    for name in commands:
        assert f"usage: python -m helpers {name}" in page, f"`{name} --help` missing from the command-line page"


def test_notebook_pages_show_an_executed_notebook_and_the_committed_ones(site):
    executed = (site / "notebooks" / "pytorch" / "01-test.html").read_text()
    assert "official score over every machine type: 0.7321" in executed
    files = site / "notebooks" / "pytorch" / "01-test_files"
    figures, sounds = list(files.glob("*.png")), list(files.glob("*.wav"))
    assert [f.read_bytes() for f in figures] == [PIXEL] and [f.read_bytes() for f in sounds] == [SOUND]
    assert f'src="01-test_files/{figures[0].name}"' in executed  # the figure, and the player's sound, beside the page
    assert f'<source src="01-test_files/{sounds[0].name}"' in executed and "data:audio" not in executed
    committed = (site / "notebooks" / "pytorch" / "01-test.html").with_name("00-train-with-visual.html").read_text()
    assert "Not executed" in committed and "make demo" in committed
    solution_page = (site / "solutions" / "pytorch.html").read_text()
    assert "01-test.html" in solution_page


def test_a_broken_link_fails_the_strict_build(tmp_path):
    copy = tmp_path / "project"
    copy.mkdir()
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    shutil.copytree(ROOT / "docs", copy / "docs")
    (copy / "helpers").symlink_to(ROOT / "helpers")  # mkdocstrings reads the package beside mkdocs.yml
    page = copy / "docs" / "cache.md"
    page.write_text(page.read_text() + "\nSee [the missing page](no-such-page.md).\n")
    run = build(copy / "mkdocs.yml", tmp_path / "site", tmp_path / "no-result")
    log = run.stdout + run.stderr
    assert run.returncode != 0, log
    warnings = [line for line in log.splitlines() if line.startswith("WARNING")]
    assert any("cache.md" in line and "no-such-page.md" in line for line in warnings), log
    assert "Aborted with 1 warnings in strict mode" in log, log
