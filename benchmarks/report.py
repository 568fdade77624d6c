"""A benchmark's report: what it measured, as a Markdown page and a figure, for the docs.

    write(folder, name, title, command, body, figure)

writes ``<folder>/<name>.md`` and ``<folder>/<name>.png``, each whole or not at all
(helpers.fileio). The page starts with the title, the command that made it, the date (UTC) and
the machine (CPU, its vector instruction sets, cores, memory, the libraries' versions:
helpers.machine), then the body (Markdown) and the figure. ``make benchmark`` writes the reports
of both benchmark scripts into ``docs/benchmarks/``.
"""
from __future__ import annotations

import datetime
from pathlib import Path


def markdown_table(header: list[str], rows: list[list]) -> str:
    """A Markdown table; the first column left-aligned, the others right-aligned."""
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def machine_text() -> str:
    """One paragraph on the machine and the software this process measures with."""
    from helpers import machine, threads

    sets = ", ".join(machine.instruction_sets()) or "none of " + ", ".join(n for _, n in machine.INSTRUCTION_SETS)
    libraries = ", ".join(f"{name} {version}" for name, version in machine.versions().items())
    return (f"{machine.cpu_name()} (this process may use {threads.cores()}); vector instructions: {sets}; "
            f"{machine.memory_gb():.0f} GB of memory. {libraries}.")


def write(folder: str | Path, name: str, title: str, command: str, body: str, figure) -> Path:
    """Write the report page ``<folder>/<name>.md`` and its figure ``<name>.png`` (a matplotlib figure,
    closed afterwards); returns the page's path."""
    import matplotlib.pyplot as plt

    from helpers.fileio import atomic_path, atomic_write_text

    folder = Path(folder)
    with atomic_path(folder / f"{name}.png") as temporary:
        figure.savefig(temporary, format="png", dpi=110)
    plt.close(figure)
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = (f"# {title}\n\nMade by `{command}` on {date}.\n\n**Machine:** {machine_text()}\n\n{body.strip()}\n\n"
            f"![{title}]({name}.png)\n")
    return atomic_write_text(folder / f"{name}.md", page)
