"""WAICT ecosystem tools: the `waict` command line (conformance check, and later the
transparency service, witness, asset host and site-operator tooling)."""

__version__ = "0.1.0"
