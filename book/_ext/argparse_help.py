"""Sphinx directive: a command line's help, generated from its argparse parser.

``.. argparse-help:: package.module:build_parser`` with ``:prog: NAME`` calls
``build_parser(prog=NAME)`` and shows the ``--help`` of the command and of each
subcommand, as a user would see them. (sphinx-argparse does the same, but its
domain warns on every unresolved MyST link, which breaks ``-W``.)
"""

from __future__ import annotations

import argparse
import functools
import importlib

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

WIDTH = 90


def walk_parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from walk_parsers(sub)


class ArgparseHelp(SphinxDirective):
    required_arguments = 1
    option_spec = {"prog": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        module_name, _, function = self.arguments[0].partition(":")
        build = getattr(importlib.import_module(module_name), function)
        parser = build(prog=self.options["prog"]) if "prog" in self.options else build()
        out: list[nodes.Node] = []
        for each in walk_parsers(parser):
            each.formatter_class = functools.partial(each.formatter_class, width=WIDTH)
            out.append(nodes.rubric(text=each.prog))
            out.append(nodes.literal_block(text=each.format_help().rstrip(), language="none"))
        return out


def setup(app):
    app.add_directive("argparse-help", ArgparseHelp)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
