"""The clip browser in a real JupyterLab, driven by headless Chromium, as a person uses it.

Two torch solutions are trained for one epoch on the tiny synthetic data into a temporary result
root. A copy of the pytorch solution folder, its 02-visualize-predictions notebook pointed at that
root, is opened in JupyterLab and run from the Run menu; then the clip browser's machine type,
order and comparison are changed in the page. Checked after each change: the panels image is
replaced by one that is drawn (not blank; a second row of panels for the compared solution),
exactly one <audio> element plays the selected clip from a data URI, and in the end the page has
logged no error. Screenshots of every step go to the test's tmp_path. JupyterLab and Chromium run
with their own temporary settings, and both (the kernel included) are shut down whatever happens.

Skipped without Chromium (`apt-get install chromium`; .ci/run installs it) or without the
playwright package (`.venv/bin/pip install -r requirements.txt`).
"""
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import nbformat
import psutil
import pytest
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

from helpers import frontend, paths
from helpers.detectors import solution
from helpers.experiments import pipeline

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="needs playwright: .venv/bin/pip install -r requirements.txt")

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs Chromium: apt-get install chromium (.ci/run installs it when missing)")

TYPES = "fan,valve"
SOLUTION = "pytorch"  # the notebook opened; "vae" is the run it is compared with
NOTEBOOK = "02-visualize-predictions.ipynb"
# Playwright adds --headless and a fresh temporary profile (--user-data-dir) itself. Without the
# background-networking flags Chromium dials Google's services, which this closed network refuses.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SERVER_START_S = 60
PAGE_LOAD_MS = 60_000
RUN_ALL_MS = 90_000  # kernel start, imports, the notebook's figures and the browser's first panels
CHANGE_MS = 45_000   # one re-render of the panels after a selection (about 20 s on two busy cores)

KERNEL_IDLE = re.compile(r"\(ipykernel\) \| Idle")
PANELS = ".widget-output img"
AUDIO_SOURCE = ".widget-output audio source"
PANELS_REPLACED = """([selector, before]) => {
    const images = document.querySelectorAll(selector);
    return images.length === 1 && images[0].complete && images[0].src !== before;
}"""
# The image's src, its height and the share of its pixels that are drawn (neither transparent nor
# white). decode() first: a large PNG is painted some time after it has loaded.
PANELS_DRAWN = """image => image.decode().then(() => {
    const canvas = document.createElement("canvas");
    canvas.width = image.naturalWidth;
    canvas.height = image.naturalHeight;
    const context = canvas.getContext("2d");
    context.drawImage(image, 0, 0);
    const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
    let drawn = 0;
    for (let i = 0; i < pixels.length; i += 4) {
        if (pixels[i + 3] > 0 && Math.min(pixels[i], pixels[i + 1], pixels[i + 2]) < 245) drawn += 1;
    }
    return [image.src, image.naturalHeight, drawn / (canvas.width * canvas.height)];
})"""
MIN_DRAWN = 0.1  # log-mel, reconstruction and error images fill about a third of the panels


@pytest.fixture(scope="module")
def result_root(tiny_data, tmp_path_factory):
    """pytorch and vae trained for one epoch on fan and valve, and their test runs."""
    root = tmp_path_factory.mktemp("lab-result")
    for name in (SOLUTION, "vae"):
        sol = solution.load(paths.NOTEBOOKS / name, {"training.epochs": 1})
        pipeline.train_all(sol, tiny_data, root, TYPES, live=False, progress=False)
        pipeline.test_all(sol, tiny_data, root, TYPES, progress=False)
    return root


def free_port() -> int:
    """A port free on 127.0.0.1 now (JupyterLab gets port_retries=0: a port taken since fails loudly)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def isolated_environment(home) -> dict:
    """The caller's environment without its Jupyter/IPython settings, and with temporary ones.

    A DCASE_HEADLESS marking inherited from the caller would turn the browser into a note, and
    MPLBACKEND would take figures away from the inline backend, so both are dropped as well.
    """
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("JUPYTER", "JPY_", "IPYTHON")) and key not in (frontend.HEADLESS_VARIABLE, "MPLBACKEND")}
    folders = {"JUPYTER_CONFIG_DIR": home / "config", "JUPYTER_DATA_DIR": home / "data",
               "JUPYTER_RUNTIME_DIR": home / "runtime", "IPYTHONDIR": home / "ipython"}
    env.update({key: str(folder) for key, folder in folders.items()})
    # No "get official Jupyter news?" toast and no request for the news feed or for updates.
    settings = home / "config" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    return env


def copy_solution(lab_root, result_root, data_dir) -> None:
    """The solution folder (config.yaml, model.py, the notebook with its parameters set) under lab_root.

    The notebook's own figures show one clip (CLIPS) instead of the default eight: they are not
    what this test is about, and the notebook tests cover them.
    """
    target = lab_root / SOLUTION
    target.mkdir(parents=True)
    for name in ("config.yaml", "model.py"):
        shutil.copy2(paths.NOTEBOOKS / SOLUTION / name, target / name)
    parameters = {"RESULT_ROOT": str(result_root), "DATA_DIR": str(data_dir), "MACHINE_TYPES": TYPES,
                  "CLIPS": [str(min((data_dir / "fan" / "test").glob("normal_*.wav")))]}
    notebook = parameterize_notebook(load_notebook_node(str(paths.NOTEBOOKS / SOLUTION / NOTEBOOK)), parameters)
    nbformat.write(notebook, target / NOTEBOOK)


def stop(server: subprocess.Popen) -> None:
    """Stop JupyterLab (SIGTERM: it shuts its kernels down first); kill whatever is left."""
    try:
        children = psutil.Process(server.pid).children(recursive=True)  # the kernel among them
    except psutil.Error:
        children = []
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)
    _, alive = psutil.wait_procs(children, timeout=10)
    for process in alive:
        process.kill()


@pytest.fixture
def notebook_url(result_root, tiny_data, tmp_path):
    """JupyterLab on a free local port, serving the solution copy; the notebook's URL with its token."""
    lab_root = tmp_path / "lab"
    copy_solution(lab_root, result_root, tiny_data)
    port, token = free_port(), secrets.token_hex(16)
    log_path = tmp_path / "jupyterlab.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",  # CI runs as root
             "--ServerApp.ip=127.0.0.1",
             f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--ServerApp.root_dir={lab_root}",
             f"--IdentityProvider.token={token}",
             "--LabApp.extension_manager=readonly"],  # never asks PyPI for extensions
            env=isolated_environment(tmp_path / "jupyter"), cwd=lab_root, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + SERVER_START_S
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start within {SERVER_START_S} s; its log:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.25)
        yield f"{base}/lab/tree/{SOLUTION}/{NOTEBOOK}?token={token}"
    finally:
        stop(server)


@pytest.fixture
def lab_page(notebook_url, tmp_path):
    """A headless Chromium page showing the notebook, and the list its console errors and uncaught exceptions go to.

    Closed before JupyterLab stops, after a last screenshot (last.png) of whatever it shows then.
    """
    errors = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, timeout=PAGE_LOAD_MS)
        try:
            tab = browser.new_page(viewport={"width": 1400, "height": 1400})
            tab.set_default_timeout(CHANGE_MS)
            tab.on("console", lambda message: message.type == "error" and errors.append(f"console: {message.text}"))
            tab.on("pageerror", lambda error: errors.append(f"page error: {error}"))
            tab.goto(notebook_url, timeout=PAGE_LOAD_MS)
            yield tab, errors
            tab.screenshot(path=tmp_path / "last.png")
        finally:
            browser.close()


def dropdown(page, description: str):
    """The <select> of the clip browser's dropdown with this description."""
    label = page.locator("label.widget-label", has_text=re.compile(rf"^{re.escape(description)}$"))
    return page.locator(".widget-dropdown", has=label).locator("select")


def redrawn(page, before: str, screenshot, timeout: float = CHANGE_MS) -> tuple[str, int, str]:
    """Wait until the panels image differs from `before`, screenshot the browser, check that the
    panels are drawn and that one <audio> element plays a clip from a data URI.

    Returns the image's src, its height in pixels and the audio's src.
    """
    page.wait_for_function(PANELS_REPLACED, arg=[PANELS, before], timeout=timeout)
    src, height, drawn = page.locator(PANELS).evaluate(PANELS_DRAWN)
    page.locator(".jp-OutputArea-output", has=page.locator(".widget-output")).screenshot(path=screenshot)
    assert drawn > MIN_DRAWN, f"the panels image is blank: {drawn:.1%} of its pixels drawn (see {screenshot})"
    sources = page.locator(AUDIO_SOURCE)
    assert sources.count() == 1, f"one <audio> player for the selected clip (see {screenshot})"
    audio = sources.get_attribute("src")
    assert audio.startswith("data:audio/"), audio[:40]
    return src, height, audio


def test_clip_browser_in_jupyterlab(lab_page, tmp_path):
    """Run All Cells shows the browser; type, order and comparison each redraw the panels and keep one player."""
    page, errors = lab_page
    # The status bar reads "No Kernel | Idle" before the session's kernel exists; Run All then would ask for one.
    page.locator(".jp-StatusBar-Widget").get_by_text(KERNEL_IDLE).wait_for(timeout=PAGE_LOAD_MS)
    page.locator(".lm-MenuBar-item", has_text="Run").click()
    page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()
    try:
        src, height, audio = redrawn(page, "", tmp_path / "1-opened.png", RUN_ALL_MS)
    except sync_api.TimeoutError:
        stderr = "\n".join(page.locator('[data-mime-type="application/vnd.jupyter.stderr"]').all_inner_texts())
        pytest.fail(f"no clip browser panels {RUN_ALL_MS / 1000:.0f} s after Run All Cells; the notebook's stderr:\n{stderr[-3000:]}")

    dropdown(page, "type").select_option("valve")
    src, height, valve_audio = redrawn(page, src, tmp_path / "2-valve.png")
    assert valve_audio != audio, "another machine type plays another clip"

    dropdown(page, "order").select_option("most anomalous normal clips")
    src, height, audio = redrawn(page, src, tmp_path / "3-worst-normal.png")
    clip = dropdown(page, "clip")
    assert clip.evaluate("select => select.selectedIndex") == 0 and clip.input_value().startswith("normal_")
    assert audio != valve_audio, "the most anomalous normal clip plays, not the first clip by name"

    compare = dropdown(page, "compare with")
    offered = compare.locator("option").all_inner_texts()
    assert "vae" in offered, f"the vae run under the same result root is offered for comparison: {offered}"
    compare.select_option("vae")
    _, compared_height, compared_audio = redrawn(page, src, tmp_path / "4-compare-vae.png")
    assert compared_height > 1.5 * height, "the compared solution adds a second row of panels"
    assert compared_audio == audio, "comparing keeps the clip"

    assert errors == []
