"""WAICT verifier: every WAICT format and every client-side check, with no I/O.

Bytes and time in, verdicts out. Runs unchanged in CPython and in Pyodide.
The whole client decision is :func:`decide`.
"""

from verifier.decide import decide, evaluate_manifest
from verifier.errors import ScenarioError, WaictError

__all__ = ["ScenarioError", "WaictError", "decide", "evaluate_manifest"]
__version__ = "0.1.0"
