"""WAICT ecosystem tools, everything that is not the browser, in wings named after roles:
:mod:`waict.log` runs the servers (transparency service with its storage and prefix tree,
witness, asset host); :mod:`waict.site` is the site operator's tooling (manifest build, HTML
scan, publish, serve-site, local state, log client, verify, monitor, preload list);
:mod:`waict.demo` runs the whole ecosystem on loopback with the sample sites and checks them
in Chromium; :mod:`waict.common` holds the few small pieces more than one wing uses; and
:mod:`waict.cli` is the ``waict`` command, where each wing registers its own subcommands.
Every WAICT format and client check comes from :mod:`verifier`. Import rules (tested by
``tests/unit/test_waict_layout.py``): ``common`` imports no wing; ``log`` and ``site`` import
only ``verifier`` and ``common`` (never each other); ``demo`` may import ``log`` and ``site``;
nothing imports ``cli``."""

__version__ = "0.1.0"
