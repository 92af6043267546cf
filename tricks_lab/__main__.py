"""Command line: ``python -m tricks_lab run|compare|recipe``.

Examples::

    python -m tricks_lab run --profile smoke --seeds 0 1 --set label_smoothing=0.1
    python -m tricks_lab compare --profile short --seeds 0 1 2 3 4 \\
        --variant baseline --variant "smoothing: label_smoothing=0.1" \\
        --out book/results/03_label_smoothing.json
    python -m tricks_lab recipe        # the baseline recipe's fields and defaults
    torchrun --nproc_per_node=4 -m tricks_lab run --profile short --set batch_size=4096 lr_reference_batch=512

``run`` is ``compare`` with a single variant. Each variant is ``NAME`` or
``NAME: field=value field=value`` (space-separated) applied to the baseline
recipe (fields as in :class:`tricks_lab.recipe.Recipe`; a tuple as
``milestones=0.5,0.75``;
``teacher=NAME`` uses an earlier variant as the teacher). The table is
printed; ``--out`` writes a results record with provenance (atomically).
Under ``torchrun`` the ranks train data-parallel (:mod:`tricks_lab.distributed`):
``batch_size`` stays the global batch, and only rank 0 prints and writes.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Sequence

from .profiles import PROFILE_NAMES
from .recipe import BASELINE, Recipe


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
        seeds.extend(range(int(low), int(high) + 1) if high else [int(low)])
    return seeds


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tricks_lab", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "compare"):
        cmd = sub.add_parser(name, help=f"{name} recipes over seeds and print the table")
        cmd.add_argument("--profile", default="auto", choices=PROFILE_NAMES)
        cmd.add_argument("--seeds", nargs="+", default=["0", "1", "2"],
                         help="seeds, e.g. 0 1 2 or 0-4 (default: 0 1 2)")
        cmd.add_argument("--out", help="write a results record (JSON) here")
        cmd.add_argument("--no-cache", action="store_true", help="recompute runs that are cached")
        if name == "run":
            cmd.add_argument("--set", dest="assignments", nargs="*", default=[], metavar="FIELD=VALUE",
                             help="changes to the baseline recipe")
        else:
            cmd.add_argument("--variant", dest="variants", action="append", required=True,
                             help="NAME or 'NAME: field=value ...'; the first is the baseline")
    sub.add_parser("recipe", help="print the baseline recipe's fields")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "recipe":
        for key, value in BASELINE.to_dict().items():
            print(f"{key} = {value!r}")
        return 0
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
        launcher = ("python -m tricks_lab" if ctx.world_size == 1
                    else f"torchrun --nproc_per_node={ctx.world_size} -m tricks_lab")
        command = launcher + " " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
        path = save_record(args.out, comparison, command=command,
                           wall_seconds=time.perf_counter() - started)
        print(f"record written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
