"""MkDocs hook: the command-line reference, the ``--help`` of ``python -m helpers`` and of each of its
commands as the parser in helpers/execution/cli.py prints them, in place of the line
``<!-- generated: commands -->`` of command-line.md. A new command or option appears with no edit."""
from __future__ import annotations

import argparse
import os
import sys
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import cell, fill_marker, helpers_module  # noqa: E402

PAGE = "command-line.md"
WIDTH = "88"  # argparse wraps --help to the terminal's width: the same width on every machine (fits the column)


@contextmanager
def _columns(width: str):
    before = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = width
    try:
        yield
    finally:
        if before is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = before


def _commands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """(name, one-line help, parser) of each subcommand, in the parser's order."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            return [(name, helps.get(name, ""), sub) for name, sub in action.choices.items()]
    return []


def reference() -> str:
    build_parser = helpers_module("cli").build_parser

    with _columns(WIDTH):
        parser = build_parser()
        commands = _commands(parser)
        lines = ["| command | what it does |", "|---|---|"]
        lines += [f"| [`{name}`](#{name}) | {cell(text)} |" for name, text, _ in commands]
        lines += ["", "```text", parser.format_help().rstrip(), "```", ""]
        for name, text, sub in commands:
            lines += [f"## {name} {{#{name}}}", "", f"{text[:1].upper()}{text[1:]}.", "",
                      "```text", sub.format_help().rstrip(), "```", ""]
    return "\n".join(lines)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if page.file.src_uri != PAGE:
        return markdown
    return fill_marker(markdown, "commands", reference(), page)
