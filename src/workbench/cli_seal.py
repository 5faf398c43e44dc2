"""The command line's part of signing and re-performance: ``workbench keys``, ``--key``, ``verify
--reperform`` and the lines verify prints about signatures (kept out of cli.py, which only wires them)."""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench import signing


def add_key_option(parser: argparse.ArgumentParser, who: str) -> None:
    """``--key PATH``: the private key to sign with instead of the person's key in the key folder."""
    parser.add_argument("--key", type=Path, default=None, metavar="PATH",
                        help=f"the {who}'s Ed25519 private key (PEM) to sign with (default: ${signing.KEY_ENV}, "
                             f"else the {who}'s key in the key folder ${signing.KEYS_ENV} or "
                             "~/.config/workbench/keys, created there on first use)")


def add_keys_command(commands: argparse._SubParsersAction) -> None:
    """``workbench keys create NAME`` and ``workbench keys list``."""
    keys = commands.add_parser("keys", help="create and list the signing keys of preparers and reviewers",
                               description="Each preparer and reviewer signs with an Ed25519 key pair kept outside "
                                           "the runs, in the key folder (~/.config/workbench/keys, or "
                                           f"${signing.KEYS_ENV}). The private key (NAME.pem) stays with its owner; "
                                           "the public key (NAME.pub.pem) goes to colleagues, whose key folder then "
                                           "recognises the signatures.")
    actions = keys.add_subparsers(dest="keys_action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a key pair for a person")
    create.add_argument("name", help='the person, as the parameter file names them, e.g. "Morgan Lee"')
    actions.add_parser("list", help="the keys in the key folder, with their fingerprints")


def cmd_keys(args: argparse.Namespace) -> int:
    """Create a person's key pair, or list the key folder's public keys."""
    if args.keys_action == "create":
        key = signing.create_key(args.name)
        print(f"Created a signing key for {args.name}: {key.path} (keep it private, back it up).")
        print(f"Public key: {signing.public_key_path(args.name)} — give it to colleagues who verify your runs.")
        print(f"Fingerprint: {key.fingerprint}")
        return 0
    trusted = signing.trusted_keys()
    if not trusted:
        print(f"No keys in {signing.keys_dir()}.")
    for fingerprint, name in sorted(trusted.items(), key=lambda item: item[1]):
        print(f"{name}: {fingerprint}")
    return 0


def seal_lines(sealed: object) -> list[str]:
    """Who signed what with which key, and notes on keys the verifier does not know."""
    if sealed is None:
        return []
    lines = [f"Signature: {line}." for line in getattr(sealed, "signers", [])]
    lines += [f"Note: {note}." for note in getattr(sealed, "notes", [])]
    return lines


def reperform_lines(run_dir: Path, jobs: int | None) -> tuple[bool, list[str]]:
    """Re-perform a run and describe the outcome: (whether it matched, lines to print)."""
    from workbench import reperform

    report = reperform.reperform_run(run_dir, jobs=jobs)
    return report.ok, reperform.format_report(report)
