"""Small pieces more than one wing uses: the tools' error family and how a command reports it,
atomic files, running an ASGI server, tile-index paths and asset-host digest names.

Import rule: ``waict.common`` imports only :mod:`verifier` and the standard library or
third-party packages, never a wing (``waict.log``, ``waict.site``, ``waict.demo``).
"""
