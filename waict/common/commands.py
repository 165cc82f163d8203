"""What every command registration shares: the subparsers type and how a failure is reported."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from waict.common.errors import SiteToolError

if TYPE_CHECKING:
    import argparse

    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]


def report_error(command: str, exc: SiteToolError) -> int:
    print(f"waict {command}: {exc}", file=sys.stderr)
    return exc.exit_code
