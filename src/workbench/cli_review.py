"""The command line's part of the review (``workbench.review``): ``signoff --control``, ``notes``
and ``review`` (kept out of cli.py, which only wires them).

Exit codes as cli.py's: 0 done; 2 a review action that cannot be recorded (the message says why:
no such workpaper or note, already signed off, the reviewer before the preparer, open notes, a
workpaper whose files differ from its manifest, a run already signed off) or bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workbench import cli_seal

EXIT_OK, EXIT_BAD_INPUT = 0, 2


def add_workpaper_signoff_options(signoff: argparse.ArgumentParser) -> None:
    """``signoff RUN_DIR --control ID --as preparer|reviewer --name NAME``: one workpaper's sign-off."""
    group = signoff.add_argument_group(
        "one workpaper's sign-off", "with --control, sign off that workpaper as its preparer or reviewer (recorded "
                                    "beside the run in <run-id>.review/, signed with the person's key); without "
                                    "--control, the run is signed off, which needs every workpaper signed off by "
                                    "its preparer and reviewer and no open review note")
    group.add_argument("--control", metavar="CONTROL_ID", default=None, help="the workpaper's control, e.g. UAR-01")
    group.add_argument("--as", dest="role", choices=["preparer", "reviewer"], default=None,
                       help="sign off as the workpaper's preparer or its reviewer")
    group.add_argument("--name", default=None, help='who signs off, e.g. "Avery Quinn"')


def add_commands(commands: argparse._SubParsersAction) -> None:
    """``workbench notes RUN_DIR add|clear|list`` and ``workbench review RUN_DIR``."""
    notes = commands.add_parser("notes", help="raise, clear and list a run's review notes",
                                description="Review notes on a run's workpapers: raised by the reviewer (optionally "
                                            "on a section or item), answered and cleared by the preparer. Each is a "
                                            "signed entry of the review record beside the run "
                                            "(<run-id>.review/review.jsonl); the sealed run never changes.")
    notes.add_argument("run_dir", type=Path, help="a run folder, e.g. outputs/2026-Q3/20261126T101500Z")
    actions = notes.add_subparsers(dest="notes_action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="raise a review note on a workpaper")
    add.add_argument("text", help="the note, e.g. \"Tie the population count to the HR report\"")
    add.add_argument("--control", required=True, metavar="CONTROL_ID", help="the workpaper, e.g. UAR-01")
    add.add_argument("--by", required=True, help="the reviewer raising the note")
    add.add_argument("--ref", default=None, help="the section or item the note is about, e.g. \"Sample, item 7\"")
    cli_seal.add_key_option(add, "reviewer")
    clear = actions.add_parser("clear", help="answer and clear a review note")
    clear.add_argument("note_id", help="the note, e.g. RN-1")
    clear.add_argument("--by", required=True, help="the preparer answering and clearing the note")
    clear.add_argument("--response", required=True, help="the answer to the note: what was done")
    cli_seal.add_key_option(clear, "preparer")
    listing = actions.add_parser("list", help="list the run's review notes")
    listing.add_argument("--open", action="store_true", help="only the open notes")

    review = commands.add_parser("review", help="show a run's review state and regenerate its review pages",
                                 description="Show, per workpaper, who signed it off as preparer and reviewer and "
                                             "when, whether it changed after sign-off, and its open review notes; "
                                             "regenerate the review pages beside the run (<run-id>.review/index.html "
                                             "and one page per workpaper) from the signed review record.")
    review.add_argument("run_dir", type=Path, help="a run folder, e.g. outputs/2026-Q3/20261126T101500Z")


def _refused(what: str, exc: Exception) -> int:
    """Print why a review action was refused; exit 2."""
    print(f"{what} refused: {exc}", file=sys.stderr)
    return EXIT_BAD_INPUT


def cmd_workpaper_signoff(args: argparse.Namespace) -> int:
    """Sign off one workpaper as its preparer or reviewer."""
    from workbench import review

    if not args.role:
        print("error: with --control, say whether you sign off as preparer or reviewer (--as preparer|reviewer)",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    name = args.name or (args.reviewer if args.role == "reviewer" else None)
    try:
        entry = review.sign_off_workpaper(args.run_dir, args.control, args.role, name, key_path=args.key)
    except review.ReviewRefused as exc:
        return _refused("Sign-off", exc)
    print(f"Workpaper {args.control} signed off as {args.role} by {entry['name']} on {entry['at']} "
          f"(workpaper SHA-256 {str(entry['workpaper_sha256'])[:12]}…, {len(entry['files'])} file(s) of "
          f"{args.control}/; key {entry['key_fingerprint']}).")
    print(f"Review state: {review.relative_view(args.run_dir)}")
    return EXIT_OK


def cmd_notes(args: argparse.Namespace) -> int:
    """Raise, clear or list review notes."""
    from workbench import review

    try:
        if args.notes_action == "add":
            entry = review.raise_note(args.run_dir, args.control, args.by, args.text, args.ref, key_path=args.key)
            print(f"Review note {entry['note_id']} raised on {entry['control_id']} by {entry['by']} on {entry['at']}.")
        elif args.notes_action == "clear":
            entry = review.clear_note(args.run_dir, args.note_id, args.by, args.response, key_path=args.key)
            print(f"Review note {entry['note_id']} cleared by {entry['by']} on {entry['at']}.")
        else:
            notes = review.review_state(args.run_dir).notes()
            shown = [n for n in notes if n.status == "open"] if args.open else notes
            open_count = sum(n.status == "open" for n in notes)
            print(f"{len(notes)} review note(s) on run {args.run_dir}, {open_count} open.")
            for line in review.describe_notes(shown):
                print(line)
            return EXIT_OK
    except review.ReviewRefused as exc:
        return _refused("Review note", exc)
    print(f"Review state: {review.relative_view(args.run_dir)}")
    return EXIT_OK


def cmd_review(args: argparse.Namespace) -> int:
    """Print the review state of each workpaper and regenerate the review pages."""
    from workbench import lineage, review, runfolder

    runfolder.refuse_incomplete(args.run_dir, "reviewed")
    state = review.review_state(args.run_dir)
    print(f"Review of run {args.run_dir}:")
    for line in review.describe(state):
        print(line)
    for problem in state.problems:
        print(f"  problem: {problem}")
    signoff = lineage.read_signoff(Path(args.run_dir))
    print(f"Run sign-off: signed off by {signoff.get('reviewer')} on {signoff.get('signed_off_at')}." if signoff
          else "Run sign-off: not signed off.")
    review.write_views(args.run_dir)
    print(f"Review pages: {review.relative_view(args.run_dir)}")
    return EXIT_OK
