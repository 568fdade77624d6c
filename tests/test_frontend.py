"""Who is looking: a live frontend gets widgets, a headless kernel and a script do not."""
import pytest

from helpers import frontend


class FakeKernelShell:
    """Stands in for ipykernel's shell (any shell but the terminal one counts as a kernel)."""

    def __init__(self, user_ns=None):
        self.user_ns = user_ns or {}


@pytest.fixture
def kernel(monkeypatch):
    shell = FakeKernelShell()
    monkeypatch.setattr(frontend, "_shell", lambda: shell)
    for name in ("JPY_SESSION_NAME", frontend.HEADLESS_VARIABLE):
        monkeypatch.delenv(name, raising=False)
    return shell


def test_a_script_is_neither_live_nor_a_headless_kernel():
    assert not frontend.in_kernel() and not frontend.live_frontend() and not frontend.headless_kernel()


def test_a_kernel_of_a_jupyter_server_session_is_live(kernel, monkeypatch):
    assert frontend.headless_kernel()  # papermill / nbconvert: no session variable
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/me/notebooks/pytorch/02-visualize-predictions.ipynb")
    assert frontend.live_frontend() and not frontend.headless_kernel()


def test_vs_code_is_live(kernel):
    kernel.user_ns["__vsc_ipynb_file__"] = "/home/me/02-visualize-predictions.ipynb"
    assert frontend.live_frontend()


def test_the_variable_overrides_the_guess(kernel, monkeypatch):
    monkeypatch.setenv("JPY_SESSION_NAME", "x.ipynb")
    with frontend.headless():  # what the runner does around papermill
        assert frontend.headless_kernel()
    assert frontend.live_frontend()
    monkeypatch.delenv("JPY_SESSION_NAME")
    monkeypatch.setenv(frontend.HEADLESS_VARIABLE, "0")
    assert frontend.live_frontend()
