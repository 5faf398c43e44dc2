"""``workbench run-group GROUP.yaml``: every period of a group of entities, tested on a Dask cluster.

Exit codes, as ``workbench run``'s: 0 every period of every entity was published with every
workpaper completed; 1 a workpaper failed (the others were tested and published); 2 the group file
could not be used, the cluster could not run the group (nothing was tested), or a period of an
entity could not be used (its file or exports were refused: that entity's period was not tested,
the other entities' were).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workbench import cli_seal

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def _workers(text: str) -> int:
    """A number of local worker processes: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of workers (write e.g. 2)") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"--workers must be at least 1, got {value}")
    return value


def add_command(commands: argparse._SubParsersAction) -> None:
    """The ``run-group`` subcommand."""
    run_group = commands.add_parser(
        "run-group", help="test every period of a group of entities on a Dask cluster (a local one by default)",
        description="Test every control of every period the group file lists, one task per control on a Dask "
                    "cluster: an existing one (--scheduler), or a local cluster of worker processes on this machine. "
                    "Each entity's period becomes a complete run folder of its own (as workbench run writes it), "
                    "published on a worker and signed by its preparer here; a control whose worker is lost is re-run on "
                    "another worker. The group run's folder gets index.html (every entity x control with its result "
                    "and links to the workpapers) and group-manifest.json (which worker tested what, every attempt). "
                    "The group's folder and the period files must be at the same path on every worker and on this "
                    "machine, or in object storage (fsspec URLs such as s3://bucket/prefix, with the machine's own "
                    "credentials). "
                    "Exit 0 all completed, 1 a workpaper failed, 2 the group file, the cluster or a period could "
                    "not be used.")
    run_group.add_argument("group_file", type=Path, metavar="GROUP.yaml",
                           help="the group file: the group's name (group), its output folder (out) and its entities, "
                                "each with an id and its period files (entities[].periods)")
    run_group.add_argument("--scheduler", default=None, metavar="ADDRESS",
                           help="the scheduler of an existing Dask cluster, e.g. tcp://10.0.0.5:8786 (default: a "
                                "local cluster on this machine)")
    run_group.add_argument("--workers", type=_workers, default=None,
                           help="worker processes of the local cluster, each testing one control at a time "
                                "(default 2); not with --scheduler, whose cluster has its own workers")
    cli_seal.add_key_option(run_group, "preparer")


def cmd_run_group(args: argparse.Namespace) -> int:
    """Run the group; print a line per control as it is tested, then one per entity × period and the reports."""
    from workbench import groupfile, groups

    if args.scheduler and args.workers is not None:
        print("error: --workers sizes the local cluster; the cluster at --scheduler has its own workers",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    group = groupfile.load_group(args.group_file)
    workers = args.workers or groups.DEFAULT_WORKERS
    print(f"Connecting to the Dask cluster at {args.scheduler} ..." if args.scheduler
          else f"Starting a local Dask cluster of {workers} worker process(es) ...")
    try:
        with groups.connect(args.scheduler, workers) as (client, cluster):
            result = groups.run_group(group, client, cluster, signing_key=getattr(args, "key", None))
    except groups.GroupSetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print()
    print("\n".join(groups.summary_lines(result)))
    if result.not_usable:
        print(f"Not tested: {', '.join(f'{p.entity_id} {p.period_id}'.strip() for p in result.not_usable)} — the "
              "period could not be used (see the message above and the group index).", file=sys.stderr)
        return EXIT_BAD_INPUT
    if result.failed_controls:
        print("Failed workpaper(s): " + ", ".join(" ".join(f) for f in result.failed_controls)
              + " — see their workpaper.html for the error.", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
