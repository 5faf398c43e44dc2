"""The ``workbench`` command: run a period, verify and sign off a run, size and evaluate samples, run the demo.

Exit codes: 0 success; 1 the run finished but a control failed, or verification found differences
(or ``workbench runs --remove-incomplete`` could not remove a run, or a run's sign-off was refused
because a workpaper is not signed off by its preparer and reviewer or a review note is open);
2 the input could not be used (parameter file, source file, arguments), with a message saying what
and where, a run's output folder cannot be written (disk full, read-only, no permission; the
message names the folder), and any unexpected error (:mod:`workbench.clierrors`). A run that stops
before it is complete exits 130 when interrupted by Ctrl-C (SIGINT) and 143 when stopped by SIGTERM
(the shell's 128 + signal number), or 2 as above; it says why and leaves its folder as
``<run-id>.incomplete`` with the reason in ``incomplete.json`` (``workbench runs`` lists it;
``--remove-incomplete`` deletes it). No error shows a Python traceback unless ``--debug`` is given.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from workbench import __version__, cli_group, cli_review, cli_seal

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
DEBUG_HELP = "on an error, also show the Python traceback (technical detail for reporting a problem)"


def _rate(text: str) -> float:
    """A rate given as 0.05, 5% or 5 %."""
    value = text.strip().rstrip("%").strip()
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a rate (write 0.05 or 5%)") from None
    return number / 100 if text.strip().endswith("%") else number


def _jobs(text: str) -> int:
    """A number of controls to test at once: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of jobs (write e.g. 2)") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"--jobs must be at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with help written for auditors."""
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Audit Workbench: test identity and access controls for SOC 2 and SOX, with workpapers "
                    "and evidence anyone can re-perform.",
    )
    parser.add_argument("--version", action="version", version=f"Audit Workbench {__version__}")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="test every control of a period and write its workpapers",
                              description="Validate the period's parameter file, freeze its source files, test each "
                                          "control and write workpapers, the exception register and the manifest "
                                          "into a new run folder (earlier runs are never overwritten).")
    run.add_argument("parameters", type=Path, help="the period's YAML parameter file, e.g. parameters/2026-Q3.yaml")
    run.add_argument("--out", type=Path, default=Path("outputs"), help="folder for run outputs (default: outputs/)")
    run.add_argument("--jobs", type=_jobs, default=None, help="controls tested at once (default: number of cores)")
    run.add_argument("--only", nargs="+", metavar="CONTROL_ID", help="test only these controls")
    run.add_argument("--prior-run", type=Path, default=None, metavar="RUN_DIR",
                     help="the prior period's completed run (e.g. outputs/2026-Q2/<run-id>, or outputs/2026-Q2 for "
                          "its latest run): each workpaper then shows the changes since the prior period (joiners, "
                          "leavers, grants added and removed, population, findings resolved, new or recurring)")
    run.add_argument("--kernels", choices=("warm", "cold"), default="warm",
                     help="warm (default): each control's kernel is forked from a process that has already "
                          "imported what the notebooks import; cold: each kernel starts from nothing (slower; "
                          "the workpapers are the same)")
    cli_seal.add_key_option(run, "preparer")

    check = commands.add_parser("check", help="check a period's parameter file and its exports before running it",
                                description="Check everything a run of the period would use and report every "
                                            "problem at once, each with its line and key: the YAML, every key and "
                                            "value, the references between systems, sources and controls, that every "
                                            "export exists and its reader reads it (kind, reader options, mapped "
                                            "columns against the file's real headers), each control's procedure, "
                                            "settings and source roles. Writes nothing. Exit 0 when the period is "
                                            "ready to run, 2 when there is any problem.")
    check.add_argument("parameters", type=Path, help="the period's YAML parameter file, e.g. parameters/2026-Q3.yaml")

    verify = commands.add_parser("verify", help="re-hash a run's files, check its signatures, re-derive its samples",
                                 description="Check that every input and output of a run still has the SHA-256 its "
                                             "manifest recorded, that the manifest's statements (seed, parameters, "
                                             "conclusions, exception counts) match the files, that the preparer's "
                                             "signature on the manifest and the reviewer's signed sign-off hold (and "
                                             "that no sign-off in the period's ledger was deleted), naming each signer "
                                             "and key; re-derive every control's sample from the recorded population, "
                                             "seed and method. With --reperform, also re-execute every control from the "
                                             "frozen inputs and compare every result. Exit 0 only if everything matches.")
    verify.add_argument("run_dir", type=Path, help="a run folder, e.g. outputs/2026-Q3/20261126T101500Z")
    verify.add_argument("--reperform", action="store_true",
                        help="also re-execute every control from the run's frozen inputs, parameters and seed in a "
                             "scratch folder and name every difference from the recorded results")
    verify.add_argument("--jobs", type=_jobs, default=None, help="with --reperform: controls re-executed at once")

    signoff = commands.add_parser("signoff", help="sign off one workpaper (--control), or the whole run and lock its files",
                                  description="With --control ID --as preparer|reviewer --name NAME: sign off that "
                                              "workpaper (who, when, the SHA-256 of its files), recorded beside the run. "
                                              "Without --control: verify the run, check that every workpaper is signed "
                                              "off by its preparer and reviewer and that no review note is open, record "
                                              "the reviewer's sign-off in signoff.json (reviewer, UTC time, the "
                                              "manifest's SHA-256, the review record's SHA-256, workbench version) and "
                                              "make the run's files read-only. A run is signed off once; any later "
                                              "change to its files is reported by workbench verify as a change after "
                                              "sign-off.")
    signoff.add_argument("run_dir", type=Path, help="a run folder, e.g. outputs/2026-Q3/20261126T101500Z")
    signoff.add_argument("--reviewer", default=None, help='the reviewer signing off the run, e.g. "Morgan Lee"')
    signoff.add_argument("--note", default=None, help="a note recorded with the run's sign-off")
    cli_seal.add_key_option(signoff, "signer")
    cli_review.add_workpaper_signoff_options(signoff)
    cli_seal.add_keys_command(commands)
    cli_review.add_commands(commands)
    cli_group.add_command(commands)

    pdf = commands.add_parser("pdf", help="print a run's workpapers and its period binder to PDF",
                              description="Print a finished run to PDF with Chromium: one PDF per workpaper (named "
                                          "after its control, e.g. UAR-01.pdf), the period index (index.pdf) and "
                                          "binder.pdf (the index, then every workpaper, with a bookmark per control). "
                                          "Pages are landscape with the entity, period, control, workpaper reference "
                                          "and 'Page x of y' on every page; per-item tables too wide for the page are "
                                          "split into column groups that repeat the item's row and selection number. "
                                          "The run folder itself is never written.")
    pdf.add_argument("run_dir", type=Path, help="a finished run folder, e.g. outputs/2026-Q3/20261126T101500Z")
    pdf.add_argument("--out", type=Path, default=None,
                     help="folder for the PDFs (default: beside the run, <run folder>-pdf)")
    pdf.add_argument("--paper", choices=["a4", "letter"], default="a4", help="paper size, printed landscape (default a4)")

    bundle = commands.add_parser("bundle", help="one self-checking archive of a run for people outside the tool",
                                 description="Write a finished run as one zip an external auditor can open and check "
                                             "offline (BagIt: every file's SHA-256 in the bag's manifest): the run "
                                             "folder as sealed (workpapers, exception register, manifest and "
                                             "signatures, frozen inputs, sign-off), its PDFs, the period's sign-off "
                                             "ledger up to this run and a README on checking it. With --check, "
                                             "validate a bundle, naming every changed, missing or added file, then "
                                             "verify the run inside it as workbench verify does. Exit 0 only if "
                                             "everything matches.")
    bundle.add_argument("path", type=Path, metavar="RUN_DIR_OR_BUNDLE",
                        help="a finished run folder; with --check, a bundle (.zip)")
    bundle.add_argument("--out", type=Path, default=None,
                        help="the archive to write (default: beside the run, <run folder>-bundle.zip)")
    bundle.add_argument("--check", action="store_true", help="check a bundle instead of writing one")
    bundle.add_argument("--no-pdf", action="store_true", help="leave out the PDFs (no Chromium needed)")
    bundle.add_argument("--paper", choices=["a4", "letter"], default="a4", help="paper size of the PDFs (default a4)")

    runs = commands.add_parser("runs", help="list a period's runs: complete, signed off, or incomplete and why",
                               description="List the runs of a period folder (or of every period in an output "
                                           "folder), newest first, with their state: complete, complete and "
                                           "signed off, in progress, or incomplete with the reason and the step "
                                           "it stopped in. An incomplete run is not evidence.")
    runs.add_argument("folder", type=Path, metavar="PERIOD_OR_OUTPUT_DIR",
                      help="a period folder (outputs/2026-Q3), a period id (2026-Q3, under --out) or the output folder")
    runs.add_argument("--out", type=Path, default=Path("outputs"), help="folder for run outputs (default: outputs/)")
    runs.add_argument("--remove-incomplete", action="store_true",
                      help="delete the incomplete runs (never a complete, signed-off or running one) and list them")

    size = commands.add_parser("size", help="statistical sample size for a test of controls",
                               description="Attribute sample size from confidence, tolerable and expected deviation "
                                           "rates (AICPA Audit Sampling guide method), or from an allowed number "
                                           "of deviations in the sample (--deviations).")
    size.add_argument("--confidence", type=_rate, default=0.95, help="confidence level (default 95%%)")
    size.add_argument("--tolerable", type=_rate, required=True, help="tolerable deviation rate, e.g. 5%%")
    size.add_argument("--expected", type=_rate, default=0.0, help="expected deviation rate (default 0%%)")
    size.add_argument("--population", type=int, default=None, help="population size (needed for hypergeometric)")
    size.add_argument("--method", choices=["binomial", "hypergeometric", "poisson"], default="binomial")
    size.add_argument("--deviations", type=int, default=None, metavar="K",
                      help="plan by an allowed number of deviations in the sample instead of an expected rate "
                           "(the acceptance number K, as jfa's expected >= 1); not with a non-zero --expected")

    evaluate = commands.add_parser("evaluate", help="upper deviation limit and conclusion for a tested sample",
                                   description="Evaluate a tested attribute sample: sample deviation rate, upper "
                                               "deviation limit, allowance for sampling risk and whether the sample "
                                               "supports reliance on the control.")
    evaluate.add_argument("--sample-size", type=int, required=True, help="items tested")
    evaluate.add_argument("--deviations", type=int, required=True, help="deviations found")
    evaluate.add_argument("--confidence", type=_rate, default=0.95, help="confidence level (default 95%%)")
    evaluate.add_argument("--tolerable", type=_rate, required=True, help="tolerable deviation rate, e.g. 5%%")
    evaluate.add_argument("--population", type=int, default=None, help="population size (needed for hypergeometric)")
    evaluate.add_argument("--method", choices=["binomial", "hypergeometric", "poisson"], default="binomial")

    demo = commands.add_parser("demo", help="build the demo company's data and run its two periods end to end",
                               description="Generate the fictional Harbor Lane Payments, Inc. exports of Q2 and Q3 "
                                           "2026 (with planted exceptions and their answer keys), run the prior "
                                           "period (Q2), record the auditors' follow-up of its exceptions, roll the "
                                           "open ones forward, and run the demo period (Q3), which retests them.")
    demo.add_argument("--employees", type=int, default=300, help="size of the demo company (default 300)")
    demo.add_argument("--seed", type=int, default=20260930, help="seed of the generated data (default 20260930)")
    demo.add_argument("--data", type=Path, default=None,
                      help="where to write the exports, one folder per period (default: data/demo/)")
    demo.add_argument("--out", type=Path, default=Path("outputs"), help="folder for run outputs (default: outputs/)")
    demo.add_argument("--jobs", type=_jobs, default=None, help="controls tested at once (default: number of cores)")
    demo.add_argument("--data-only", action="store_true", help="only generate the exports; do not run the periods")

    roll = commands.add_parser("rollforward", help="start the next period: its parameter file and open exceptions",
                               description="Write the next period's parameter file (dates moved by one period, a new "
                                           "seed proposed) and carry every exception still open, with its history, "
                                           "into the next period's remediation file, scheduling retests. The prior "
                                           "period's runs and files are left untouched; nothing is overwritten.")
    roll.add_argument("parameters", type=Path, help="this period's YAML parameter file")
    roll.add_argument("--to", required=True, metavar="PERIOD", help="the next period's id, e.g. 2026-Q4")
    roll.add_argument("--out", type=Path, default=Path("outputs"), help="where this period's runs are (default: outputs/)")
    roll.add_argument("--records-only", action="store_true",
                      help="the next period's parameter file already exists: leave it as it is and only carry the "
                           "open exceptions into its remediation file")

    init = commands.add_parser("init", help="write a starting period file for a folder of exports",
                               description="Look at every export in a folder: recognise the exports a dedicated "
                                           "reader knows by reading them, propose a column mapping onto a canonical "
                                           "table for the others, and write a period file to start from. What only "
                                           "the auditor knows (entity, period, people, extraction times, scope, "
                                           "controls) is left as TODO, which workbench check reports until filled "
                                           "in. An existing file is never overwritten.")
    init.add_argument("exports", type=Path, help="the folder of the period's exports")
    init.add_argument("--out", type=Path, default=None,
                      help="the period file to write (default: parameters/<folder name>.yaml)")
    init.add_argument("--entity", default=None, help='the entity under audit, e.g. "Kestrel Freight Ltd"')
    init.add_argument("--period", default=None, help="the period's id, e.g. 2026-Q3")

    tables = commands.add_parser("tables", help="the canonical tables: columns, types, required or optional, key",
                                 description="Show the canonical tables every export is read into: without TABLE each "
                                             "table with its key and meaning; with TABLE its columns (type, required "
                                             "or optional, allowed values, meaning), key and what a kind: mapped "
                                             "source may fill.")
    tables.add_argument("table", nargs="?", metavar="TABLE", help="a table, e.g. accounts")
    tables.add_argument("--markdown", action="store_true",
                        help="print the whole documentation page (workbench tables --markdown > docs/tables.md)")
    records = commands.add_parser("records", help="the auditors' remediation records: read back an edited register",
                                  description="Work with the remediation records kept beside a period's parameter "
                                              "file.")
    records_commands = records.add_subparsers(dest="records_command", required=True, metavar="ACTION")
    records_import = records_commands.add_parser(
        "import", help="read status, owner, dates, root cause, remediation and responses back from exceptions.xlsx",
        description="Read the edits an auditor made in a run's exceptions.xlsx (sheet Exceptions: status, owner, due "
                    "date, root cause, remediation action, management response, accepted risk approver and expiry) "
                    "back into the period's remediation file. Shows every change (exception id, column: old -> new) "
                    "and writes nothing unless --apply is given. A value also changed in the remediation file since "
                    "the workbook was written is reported and kept, never overwritten. Statuses and dates are "
                    "checked as the run checks them. The file keeps its comments and layout. Edit a copy of the "
                    "workbook: the run folder is evidence. Exit 0 done, 1 conflicts were left, 2 problems to correct.")
    records_import.add_argument("workbook", type=Path, help="the edited exceptions.xlsx")
    records_import.add_argument("--period-file", type=Path, default=None, metavar="PERIOD.yaml",
                                help="the period's parameter file (its remediation file is beside it) or the "
                                     "remediation file itself; default: the one the run recorded, when the workbook "
                                     "is still in its run folder")
    records_import.add_argument("--apply", action="store_true", help="write the changes shown (default: only show them)")
    records_import.add_argument("--by", default=None, metavar="NAME",
                                help="who is importing, for the history line of each changed record")

    for command in commands.choices.values():  # --debug before or after the command
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    return parser


def _cmd_init(args: argparse.Namespace) -> int:
    """Write a starting period file for a folder of exports and say what was recognised."""
    from workbench import scaffold

    out = args.out or Path("parameters") / f"{args.exports.resolve().name}.yaml"
    written, guesses, skipped = scaffold.write_period_file(args.exports, out, entity=args.entity,
                                                           period=args.period)
    print(f"{len(guesses)} export(s) in {args.exports}:")
    print(scaffold.describe(guesses))
    for path in skipped:
        print(f"  {path.name}: skipped (not an export format the workbench reads)")
    todos = written.read_text(encoding="utf-8").count('"TODO')
    print(f"Wrote {written} with {todos} TODO(s) to fill in. Then add the controls to test and run "
          f"`workbench check {written}`.")
    return EXIT_OK


def _cmd_tables(args: argparse.Namespace) -> int:
    """Print the canonical tables' declarations; an unknown table is an input error (exit 2)."""
    from workbench import tables

    if args.markdown:
        if args.table is not None:
            print("error: --markdown prints the whole page; leave out TABLE.", file=sys.stderr)
            return EXIT_BAD_INPUT
        sys.stdout.write(tables.render_markdown())
        return EXIT_OK
    try:
        sys.stdout.write(tables.render_text(args.table))
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_OK


def _cmd_rollforward(args: argparse.Namespace) -> int:
    from workbench.rollforward import rollforward

    result = rollforward(args.parameters, args.to, outputs=args.out, records_only=args.records_only)
    print(f"Next period's parameter file: {result.parameter_file}" + (" (left as it was)" if args.records_only else ""))
    if result.source_run is None:
        print(f"No run of this period under {args.out}: no exceptions to carry forward.")
    else:
        print(f"Carried {result.carried} open exception(s) from run {result.source_run.name} into "
              f"{result.remediation_file} ({result.retests} retest(s) scheduled).")
    print("Review the new file before running it: source files, extraction times, the proposed seed and people.")
    return EXIT_OK


def _cmd_records(args: argparse.Namespace) -> int:
    """``workbench records import``: show the workbook's changes to the records; write them with --apply."""
    from workbench import records

    plan = records.plan_import(args.workbook, records.records_file_for(args.workbook, args.period_file))
    print("\n".join(records.format_plan(plan)))
    if plan.problems:
        return EXIT_BAD_INPUT
    if plan.changes and args.apply:
        written = records.apply_import(plan, by=args.by or records.IMPORTED_BY)
        print(f"Wrote {len(plan.changes)} change(s) to {len(plan.by_record())} record(s) in {written}.")
    elif plan.changes:
        print("Nothing written: run the same command with --apply to write these changes.")
    return EXIT_FAILED if plan.conflicts else EXIT_OK


def _cmd_check(args: argparse.Namespace) -> int:
    """Check a period file: every problem grouped by source and control, or one line saying it is ready."""
    from workbench.check import check_period

    report = check_period(args.parameters)
    print(report.format())
    return EXIT_OK if report.ok else EXIT_BAD_INPUT


def _cmd_run(args: argparse.Namespace) -> int:
    """Run a period: progress, the summary table, exit 1 if a workpaper failed; a stopped run says
    why and where its incomplete folder is (exit 130, 143 or 2: see the module docstring)."""
    from workbench import kernel_zygote, timing_trace

    if not kernel_zygote.started_early():  # else started by the console script (``main_starting_warm_kernels``)
        timing_trace.mark("stage", step="start")
        if getattr(args, "kernels", "warm") == "warm":  # the warm kernels' imports begin before the runner's
            _start_zygote_early()
    try:
        return _run_period(args)
    finally:
        kernel_zygote.discard_early()


def start_warm_kernels_early() -> None:
    """Start the warm-kernel process for the run about to begin (``preloading.start_zygote_early``)
    and mark the start of the run in its timing trace. A zygote that cannot start is no error here:
    the run starts its own, or cold kernels, and says why if that fails too."""
    from workbench import timing_trace

    timing_trace.mark("stage", step="start")
    _start_zygote_early()


def _start_zygote_early() -> None:
    """``preloading.start_zygote_early``; a zygote that cannot start is no error here (see above)."""
    from workbench import preloading

    try:
        preloading.start_zygote_early()
    except OSError:
        pass


def runs_warm_kernels(argv: Sequence[str]) -> bool:
    """Whether a command line is ``workbench run`` with warm kernels (the default), read without
    building the command's parser: the console script starts the warm-kernel process before it
    imports and builds the rest (``console_main``). ``main`` still parses the command line; if it
    is refused, the process started is stopped."""
    import contextlib
    import io

    peek = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    peek.add_argument("command", nargs="?")
    peek.add_argument("--kernels", default="warm")
    peek.add_argument("-h", "--help", "--version", action="store_true", dest="other")
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            known, _ = peek.parse_known_args(list(argv))
    except (SystemExit, argparse.ArgumentError):  # e.g. --kernels with no value: main says what is wrong
        return False
    return known.command == "run" and known.kernels == "warm" and not known.other


def _run_period(args: argparse.Namespace) -> int:
    """``_cmd_run`` once the warm kernels' process is on its way."""
    from workbench import exceptions, runfolder, runner, stopping

    try:
        with stopping.signals_stop_the_run():
            result = runner.run_period(args.parameters, args.out, jobs=args.jobs, only=args.only,
                                       reporter=runner.default_reporter(),
                                       signing_key=getattr(args, "key", None),
                                       prior_run_dir=getattr(args, "prior_run", None),
                                       kernels=getattr(args, "kernels", "warm"))
    except stopping.RunAbandoned as abandoned:
        print(f"\n{abandoned}", file=sys.stderr)
        return abandoned.exit_code
    except runfolder.OutputWriteError as exc:  # before the run folder existed, or after it was complete
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (KeyboardInterrupt, stopping.RunStopped) as exc:  # before the run folder was created
        what, code = stopping.what_stopped(exc)
        print(f"\nRun {what} before its folder was created; nothing was written.", file=sys.stderr)
        return code or EXIT_FAILED
    completed = len(result.outcomes) - len(result.failed)
    print()
    print(runner.summary_table(result.outcomes))
    print()
    print(f"{len(result.outcomes)} control(s) tested in {result.seconds:.1f} s ({result.jobs} at a time): "
          f"{completed} workpaper(s) completed, {len(result.failed)} failed.")
    print(f"Period index: {result.index_html.resolve()}")
    register = result.run_dir / "exceptions.csv"
    if register.is_file() and (line := exceptions.carried_summary(exceptions.read_register(register))):
        print(line)
    if result.failed:
        print(f"Failed workpaper(s): {', '.join(result.failed)} — see their workpaper.html for the error.", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _cmd_runs(args: argparse.Namespace) -> int:
    """List a period's runs with their state; with --remove-incomplete, delete the incomplete ones."""
    from workbench import runfolder

    folder = args.folder
    if not folder.is_dir() and (args.out / folder).is_dir():
        folder = args.out / folder
    if not folder.is_dir():
        print(f"error: {args.folder} is not a folder of runs (a period folder such as outputs/2026-Q3, or outputs/)",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    states = runfolder.list_runs(folder)
    print(runfolder.describe_runs(states) if states else f"No runs under {folder}.")
    if args.remove_incomplete:
        removed, problems = runfolder.remove_incomplete(states)
        for state in removed:
            print(f"Removed incomplete run {state.path}")
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        print(f"{len(removed)} incomplete run(s) removed; complete, signed-off and running runs are kept.")
        return EXIT_FAILED if problems else EXIT_OK
    return EXIT_OK


def _signoff_line(record: dict) -> str:
    """Who signed a run off and when, in one line."""
    note = f" — note: {record['note']}" if record.get("note") else ""
    return f"signed off by {record.get('reviewer')} on {record.get('signed_off_at')}{note}"


def _cmd_verify(args: argparse.Namespace) -> int:
    """Verify a run: hashes, samples re-derived, sign-off; exit 1 on any difference."""
    from workbench import runner

    verification = runner.verify_run(args.run_dir)
    signoff = verification.signoff
    reperformed, reperform_lines = (cli_seal.reperform_lines(args.run_dir, args.jobs) if args.reperform
                                    else (True, []))
    if verification.problems or not reperformed:
        if verification.problems:
            print(f"Run {args.run_dir} does NOT verify ({len(verification.problems)} difference(s)):")
        else:
            print(f"Run {args.run_dir} does NOT verify: its files, signatures and samples match their records, but "
                  "re-performing its controls gives different results (below).")
        for problem in verification.problems:
            print(f"  - {problem}")
        if signoff is not None and verification.problems:
            print(f"The run was {_signoff_line(signoff)}; the differences above were made after sign-off.")
        for line in cli_seal.seal_lines(verification.sealed) + reperform_lines:
            print(line)
        return EXIT_FAILED
    print(f"Run {args.run_dir}: every input and output matches the SHA-256 recorded in its manifest.")
    if verification.rederived:
        print(f"Samples re-derived from their population, seed and method: {', '.join(verification.rederived)} "
              "(each matches its sample.csv).")
    if signoff is not None:
        print(f"Sign-off: {_signoff_line(signoff)}; nothing changed after sign-off.")
    else:
        print("Sign-off: not signed off yet (workbench signoff RUN_DIR --reviewer NAME).")
    for line in cli_seal.seal_lines(verification.sealed) + reperform_lines:
        print(line)
    return EXIT_OK


def _cmd_signoff(args: argparse.Namespace) -> int:
    """Sign off one workpaper (--control), or the run (verified and reviewed first), or say why not."""
    from workbench import review, runner

    if args.control or args.role:
        if not args.control:
            print("error: --as signs off one workpaper: name it with --control", file=sys.stderr)
            return EXIT_BAD_INPUT
        return cli_review.cmd_workpaper_signoff(args)
    try:
        record = runner.signoff_run(args.run_dir, args.reviewer, args.note, key_path=args.key)
    except runner.SignoffRefused as refused:
        print(f"Sign-off refused: {refused}", file=sys.stderr)
        return refused.exit_code
    print(f"Run {args.run_dir} {_signoff_line(record)}.")
    print(f"Recorded in {Path(args.run_dir) / 'signoff.json'} with the manifest's SHA-256 {record['manifest_sha256']}, "
          f"signed with {record['signer']}'s key {record['key_fingerprint']} and entered in the period's sign-off "
          "ledger (signoffs.jsonl beside the run); the run's files are now read-only.")
    review.write_views(args.run_dir)
    return EXIT_OK


def _cmd_pdf(args: argparse.Namespace) -> int:
    """Print a finished run's workpapers, index and binder to PDF, next to (never inside) the run folder."""
    from workbench import printing

    printed = printing.print_run(args.run_dir, args.out, paper=args.paper)
    for reference, path in printed.workpapers.items():
        print(f"  {reference}: {path} ({printed.seconds[reference]:.1f} s)")
    print(f"Period index: {printed.index} ({printed.seconds['INDEX']:.1f} s)")
    print(f"Binder: {printed.binder} (the index, then {len(printed.workpapers)} workpaper(s), a bookmark for each; "
          f"{printed.seconds['binder']:.1f} s)")
    print("The PDFs are copies for reading and filing; the evidence is the run folder, which `workbench verify` checks.")
    return EXIT_OK


def _cmd_bundle(args: argparse.Namespace) -> int:
    """Write a run's take-away bundle, or check one: the bag's files by name, then the run as verify does."""
    from workbench import bundle

    if not args.check:
        made = bundle.make_bundle(args.path, args.out, with_pdf=not args.no_pdf, paper=args.paper)
        print(f"Bundle of run {made.run}: {made.path} ({made.files} files, each with its SHA-256 in the bag's "
              "manifest; README.txt inside says how to check it).")
        print(f"Check it with: workbench bundle --check {made.path}")
        return EXIT_OK
    with bundle.unpacked(args.path) as bag_dir:
        checked = bundle.check_bag(bag_dir)
        if checked.problems:
            print(f"Bundle {args.path} does NOT verify ({len(checked.problems)} difference(s) in its files):")
            for problem in checked.problems:
                print(f"  - {problem}")
            return EXIT_FAILED
        print(f"Bundle {args.path}: every file matches the SHA-256 in the bag's manifest. The run inside, "
              f"{checked.run_dir.relative_to(bag_dir.parent)}:")
        return _cmd_verify(argparse.Namespace(run_dir=checked.run_dir, reperform=False, jobs=None))


def _cmd_size(args: argparse.Namespace) -> int:
    """Print the attribute sample size and its rationale."""
    from workbench import sampling

    plan = sampling.plan_sample(confidence=args.confidence, tolerable_rate=args.tolerable,
                                expected_rate=args.expected, population_size=args.population, method=args.method,
                                expected_deviations=args.deviations)
    print(sampling.format_size_report(plan))
    return EXIT_OK


def _cmd_evaluate(args: argparse.Namespace) -> int:
    """Print the evaluation of a tested sample."""
    from workbench import sampling

    evaluation = sampling.evaluate(args.sample_size, args.deviations, args.confidence, args.tolerable,
                                   method=args.method, population_size=args.population)
    print(sampling.format_evaluation_report(evaluation))
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    """Build the demo company and run its two periods: Q2, follow-up and roll-forward, then Q3 with retests."""
    from workbench import demo, demo_scenario, runner, signing

    root = runner.project_root()
    data_dir = args.data or root / "data" / "demo"
    print(f"Building the demo company ({args.employees} employees, seed {args.seed}) in {data_dir} ...")
    companies = demo.generate_demo_periods(data_dir, employees=args.employees, seed=args.seed)
    for period, company in companies.items():
        print(f"  {period}: {len(company.files)} export files written; planted exceptions listed in "
              f"{company.ground_truth}")
    if args.data is not None:
        if not args.data_only:
            print("Note: the demo parameter files read data/demo/; with --data elsewhere use --data-only and your "
                  "own files.")
        return EXIT_OK
    for written in demo_scenario.provide_demo_parameters(root / "parameters"):
        print(f"  {written}: the demo's parameter file, as shipped with the workbench")
    if args.data_only:
        return EXIT_OK
    args.only = None
    args.key = None
    if not os.environ.get(signing.KEYS_ENV) and not os.environ.get(signing.KEY_ENV):
        os.environ[signing.KEYS_ENV] = str((args.out / "demo-keys").resolve())
        print(f"The demo's preparer signs its runs with a demo key in {os.environ[signing.KEYS_ENV]} (not your own "
              f"key folder); set {signing.KEYS_ENV} to the same folder when you verify or sign off the demo runs.")

    def run(parameter_file: Path, prior_run: Path | None = None) -> int:
        args.parameters, args.prior_run = parameter_file, prior_run
        return _cmd_run(args)

    code = demo_scenario.run_demo_periods(root / "parameters", args.out, run)
    if code == EXIT_OK:
        print("\nThe Q3 index shows each carried exception with its retest: retested-pass where the full Q3 "
              "population no longer shows it, retested-fail where it recurred.")
    return code


HANDLERS = {"run": _cmd_run, "check": _cmd_check, "verify": _cmd_verify, "signoff": _cmd_signoff, "size": _cmd_size,
            "evaluate": _cmd_evaluate, "demo": _cmd_demo, "rollforward": _cmd_rollforward,
            "tables": _cmd_tables, "init": _cmd_init, "keys": cli_seal.cmd_keys, "runs": _cmd_runs,
            "notes": cli_review.cmd_notes, "review": cli_review.cmd_review, "pdf": _cmd_pdf, "bundle": _cmd_bundle,
            "records": _cmd_records, "run-group": cli_group.cmd_run_group}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``workbench`` console script.

    Every error ends in a message in words and exit code 2 (the input could not be used; see
    :mod:`workbench.clierrors`), never in a traceback unless ``--debug`` asks for it.
    """
    args = build_parser().parse_args(argv)
    from workbench import clierrors

    for option in ("out",) if args.command in ("run", "demo", "rollforward") else ():
        problem = clierrors.out_folder_problem(getattr(args, option), f"--{option}")
        if problem:
            print(problem, file=sys.stderr)
            return EXIT_BAD_INPUT
    try:
        return HANDLERS[args.command](args)
    except (Exception, KeyboardInterrupt) as exc:
        code, message = clierrors.report(exc, debug=getattr(args, "debug", False))
        print(message, file=sys.stderr)
        return code


def main_starting_warm_kernels(argv: Sequence[str]) -> int:
    """``main``; for ``workbench run`` with warm kernels (``runs_warm_kernels``), the warm-kernel
    process is started first, before the command's parser is built (0.05-0.1 s earlier: that
    process's imports are what a run's first control waits for). Stopped if no run adopts it (a
    command line refused, a period refused by its check)."""
    from workbench import kernel_zygote

    if kernel_zygote.fork_available() and runs_warm_kernels(argv):
        start_warm_kernels_early()
    try:
        return main(argv)
    finally:
        kernel_zygote.discard_early()


def console_main() -> None:
    """The ``workbench`` console script: ``main``, then the process ends without tearing down its
    interpreter. Tearing down one that has imported pandas, matplotlib, papermill and nbconvert took
    0.4-0.5 s after every command had finished (its output written, its files renamed into place).
    The exit handlers still run (``atexit``: logging's flush, temporary files' clean-up).

    ``workbench run`` with warm kernels starts the warm-kernel process first of all
    (``main_starting_warm_kernels``)."""
    import atexit

    code = main_starting_warm_kernels(sys.argv[1:])
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            pass
    os._exit(code)


if __name__ == "__main__":
    console_main()
