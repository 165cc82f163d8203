"""The ``waict`` command line.

waict check SCENARIO.json   print the client's verdict for a scenario as JSON
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from verifier import decide
from verifier.errors import WaictError

DESCRIPTION = """\
WAICT (Web Application Integrity, Consistency and Transparency) tools.

Commands:
  check SCENARIO.json   Run the browser's whole decision (verifier.decide) on a scenario
                        and print the verdict as JSON. Exit 0 when it could decide, exit 2
                        with a one-line error when the file is unusable.
"""


def _cmd_check(args: argparse.Namespace) -> int:
    path = Path(args.scenario)
    try:
        text = sys.stdin.read() if args.scenario == "-" else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"waict check: cannot read {args.scenario}: {exc}", file=sys.stderr)
        return 2
    try:
        scenario = json.loads(text)
    except (ValueError, RecursionError) as exc:
        print(f"waict check: {args.scenario} is not JSON: {exc}", file=sys.stderr)
        return 2
    try:
        verdict = decide(scenario)
    except WaictError as exc:
        print(f"waict check: {args.scenario}: {exc}", file=sys.stderr)
        return 2
    indent = 2 if args.pretty else None
    print(json.dumps(verdict, indent=indent))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="waict",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    check = sub.add_parser(
        "check",
        help="print the client verdict for a scenario (JSON)",
        description="Run verifier.decide on a waict check scenario (design.md section 5) and "
        "print the verdict as JSON. Exit 0 when it could decide; exit 2 with a one-line error "
        "when the scenario file is unusable.",
    )
    check.add_argument("scenario", help="scenario JSON file, or - for standard input")
    check.add_argument("--pretty", action="store_true", help="indent the JSON output")
    check.set_defaults(func=_cmd_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
