"""Command line: ``tricks-lab run|compare|recipe`` (also ``python -m tricks_lab ...``).

``run`` is ``compare`` with a single variant. Each variant is ``NAME`` or
``NAME: field=value field=value`` (space-separated) applied to the baseline
recipe (fields as in :class:`tricks_lab.recipe.Recipe`; a tuple as
``milestones=0.5,0.75``; ``teacher=NAME`` uses an earlier variant as the
teacher). The table is printed; ``--out`` writes a results record with
provenance (atomically). Under ``torchrun`` the ranks train data-parallel
(:mod:`tricks_lab.distributed`): ``batch_size`` stays the global batch, and
only rank 0 prints and writes.

The parser is built by :func:`build_parser`, one small ``_add_<command>``
function per subcommand, each naming its handler with ``set_defaults``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from collections.abc import Sequence

from . import __version__
from .profiles import PROFILE_NAMES
from .recipe import BASELINE, Recipe

__all__ = ["build_parser", "main", "parse_variant", "program_name"]

EXAMPLES = """\
examples:
  {prog} recipe
      the baseline recipe's fields and their defaults
  {prog} run --profile smoke --seeds 0 1 --set label_smoothing=0.1
      one recipe (the baseline with label smoothing) over two seeds
  {prog} compare --profile short --seeds 0-4 \\
      --variant baseline --variant "smoothing: label_smoothing=0.1" \\
      --out /tmp/smoothing.json
      two recipes over five paired seeds, the table and a results record
  {prog} reproduce 03_label_smoothing --profile lab --jobs 2
      what chapter 3's stored experiment lacks, then book/results/lab/03_label_smoothing.json
  {prog} reproduce all --profile lab --dry-run
      the runs the whole campaign still needs, and their estimated CPU hours
  torchrun --nproc_per_node=4 -m tricks_lab run --profile short \\
      --set batch_size=4096 lr_reference_batch=512
      the same run data-parallel over four processes

Runs are cached by content (TRICKS_LAB_CACHE, default ~/.cache/tricks_lab), so an
interrupted comparison resumes. CIFAR-10 is looked for in TRICKS_LAB_DATA and the
cache; TRICKS_LAB_DOWNLOAD=1 allows the download.
"""


def program_name(argv0: str | None = None) -> str:
    """How the command was called: ``python -m tricks_lab`` or the script's name (``tricks-lab``)."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    name = os.path.basename(argv0)
    if name in ("__main__.py", "-m", "-c", ""):
        return "python -m tricks_lab"
    return name


def parse_variant(text: str, known: dict[str, Recipe]) -> tuple[str, Recipe]:
    """``"NAME: a=1 b=2"`` -> ``(NAME, BASELINE with a=1, b=2)``; ``teacher=OTHER`` refers to ``known``."""
    name, _, assignments = text.partition(":")
    name = name.strip()
    if not name:
        raise ValueError(f"variant {text!r} has no name; write NAME or 'NAME: field=value ...'")
    pairs = shlex.split(assignments)
    teacher = [p for p in pairs if p.startswith("teacher=")]
    recipe = BASELINE.with_overrides([p for p in pairs if not p.startswith("teacher=")])
    if teacher:
        teacher_name = teacher[-1].split("=", 1)[1]
        if teacher_name not in known:
            raise ValueError(f"teacher={teacher_name!r} must name an earlier variant: {sorted(known)}")
        recipe = recipe.replace(teacher=known[teacher_name])
    return name, recipe


def _seeds(values: Sequence[str]) -> list[int]:
    seeds: list[int] = []
    for value in values:
        low, _, high = value.partition("-")
        try:
            seeds.extend(range(int(low), int(high) + 1) if high else [int(low)])
        except ValueError:
            raise ValueError(f"seed {value!r} must be an integer or a range such as 0-4") from None
    return seeds


# -- the subcommands: one function each adds its parser and names its handler ----------------


def _add_training_options(cmd: argparse.ArgumentParser) -> None:
    """The options ``run`` and ``compare`` share."""
    cmd.add_argument("--profile", default="auto", choices=PROFILE_NAMES,
                     help="how large the experiment is: data, model width, epochs (default: auto, "
                          "short with CUDA and smoke otherwise; TRICKS_LAB_PROFILE overrides auto)")
    cmd.add_argument("--seeds", nargs="+", default=["0", "1", "2"], metavar="SEED",
                     help="seeds, e.g. 0 1 2 or 0-4; every recipe runs with every seed, paired (default: 0 1 2)")
    cmd.add_argument("--out", metavar="PATH",
                     help="also write a results record (JSON, with provenance) to PATH, atomically")
    cmd.add_argument("--no-cache", action="store_true",
                     help="train again even where a run with the same recipe, profile and seed is cached")


def _add_run(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser("run", help="train one recipe (the baseline with changes) over seeds",
                         description="Train the baseline recipe, with the changes of --set, once per seed, "
                                     "and print the table.")
    _add_training_options(cmd)
    cmd.add_argument("--set", dest="assignments", nargs="*", default=[], metavar="FIELD=VALUE",
                     help="changes to the baseline recipe, e.g. label_smoothing=0.1 milestones=0.5,0.75 "
                          "(the fields: `recipe` subcommand)")
    cmd.set_defaults(handler=_train)


def _add_compare(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser("compare", help="train several recipes over the same seeds and compare them",
                         description="Train every variant with every seed (same seeds, so the runs are "
                                     "paired) and print each variant's difference to the first.")
    _add_training_options(cmd)
    cmd.add_argument("--variant", dest="variants", action="append", required=True, metavar="VARIANT",
                     help="NAME or 'NAME: field=value ...' (the baseline with those changes; teacher=NAME "
                          "uses an earlier variant as the teacher); repeat it; the first is the reference")
    cmd.set_defaults(handler=_train)


def _add_recipe(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser("recipe", help="print the baseline recipe's fields and defaults",
                         description="Print every field of the baseline recipe with its default value: "
                                     "the names that --set and --variant accept.")
    cmd.set_defaults(handler=_recipe)


def _add_reproduce(sub: argparse._SubParsersAction) -> None:
    from .registry import EXPERIMENTS, KINDS

    names = [e.name for e in EXPERIMENTS]
    cmd = sub.add_parser("reproduce", help="run what a chapter's stored experiment lacks and write its record",
                         description="Train every run the registry's experiment needs under the profile that "
                                     "the run cache lacks (main comparisons first, then longer budgets, grids "
                                     "and sweeps), then write book/results/PROFILE/EXPERIMENT.json. "
                                     f"Experiments: {', '.join(names)}; a chapter name selects its experiment.")
    cmd.add_argument("experiments", nargs="+", metavar="EXPERIMENT",
                     help="an experiment or chapter name (e.g. 03_label_smoothing, 09_mixup), or 'all'")
    cmd.add_argument("--profile", default="lab", choices=PROFILE_NAMES,
                     help="the profile to run and store (default: lab, the CPU evidence profile)")
    cmd.add_argument("--jobs", type=int, default=1, metavar="N",
                     help="runs in parallel, each in its own process (default: 1; 2 on a 2-core CPU trains "
                          "about 1.25x faster than 1)")
    cmd.add_argument("--threads", type=int, default=None, metavar="N",
                     help="torch threads per run (default: CPU cores / jobs)")
    cmd.add_argument("--kinds", nargs="+", default=None, choices=KINDS,
                     help="which parts to run, in the order main, longer, grid, sweep (default: all of them "
                          "under lab, the main parts under the GPU profiles)")
    cmd.add_argument("--dry-run", action="store_true",
                     help="print the runs still missing and their estimated CPU hours; train nothing")
    cmd.add_argument("--results", metavar="DIR",
                     help="the results folder (default: $TRICKS_LAB_RESULTS, else book/results)")
    cmd.set_defaults(handler=_reproduce)


SUBCOMMANDS = (_add_run, _add_compare, _add_recipe, _add_reproduce)
"""The functions that add the subcommands, in the order ``--help`` lists them."""


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; ``prog`` defaults to how the command was called."""
    prog = prog or program_name()
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Train and compare the Tricks Lab recipes on CIFAR-10, and write results records.",
        epilog=EXAMPLES.format(prog=prog),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    return parser


# -- the handlers ------------------------------------------------------------------------------


def _recipe(args: argparse.Namespace, argv: Sequence[str]) -> int:
    for key, value in BASELINE.to_dict().items():
        print(f"{key} = {value!r}")
    return 0


def _train(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from . import distributed
    from .experiments import compare
    from .profiles import resolve_profile
    from .records import save_record

    try:
        if args.command == "run":
            recipes = {"recipe": BASELINE.with_overrides(args.assignments)}
        else:
            recipes = {}
            for text in args.variants:
                name, recipe = parse_variant(text, recipes)
                if name in recipes:
                    raise ValueError(f"variant name {name!r} is used twice")
                recipes[name] = recipe
        seeds = _seeds(args.seeds)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    ctx = distributed.init_from_env(resolve_profile(args.profile).device)  # no-op without torchrun
    try:
        comparison = compare(recipes, seeds, args.profile, cache=not args.no_cache)
    finally:
        distributed.shutdown()
    if ctx.rank != 0:  # only rank 0 prints and writes
        return 0
    if ctx.world_size > 1:
        print(f"data-parallel over {ctx.world_size} processes ({ctx.backend}); "
              f"each rank's batch is batch_size / {ctx.world_size}")
    print(comparison)
    if args.out:
        called = args.prog if args.prog in ("tricks-lab", "python -m tricks_lab") else "python -m tricks_lab"
        launcher = called if ctx.world_size == 1 else f"torchrun --nproc_per_node={ctx.world_size} -m tricks_lab"
        command = launcher + " " + " ".join(shlex.quote(a) for a in argv)
        path = save_record(args.out, comparison, command=command,
                           wall_seconds=time.perf_counter() - started)
        print(f"record written to {path}")
    return 0


def _reproduce(args: argparse.Namespace, argv: Sequence[str]) -> int:
    import os

    from .records import RESULTS_ENV
    from .reproduce import reproduce

    if args.results:
        os.environ[RESULTS_ENV] = args.results
    try:
        written = reproduce(args.experiments, args.profile, jobs=args.jobs, threads=args.threads,
                            kinds=args.kinds, dry_run=args.dry_run)
    except (KeyError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for path in written:
        print(f"record written to {path}")
    return 0


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    args.prog = parser.prog
    return args.handler(args, argv)


if __name__ == "__main__":
    sys.exit(main())
