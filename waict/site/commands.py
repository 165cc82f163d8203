"""Register every site-operator command (the table is in :mod:`waict.site`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from waict.site.explorer.app import add_explore_parser
from waict.site.local_ca import add_local_ca_parser
from waict.site.manifest import add_manifest_parser
from waict.site.monitor import add_monitor_parser
from waict.site.preload import add_preload_parser
from waict.site.publish.command import add_publish_parser
from waict.site.serve import add_serve_site_parser
from waict.site.verify import add_verify_parser

if TYPE_CHECKING:
    from waict.common.commands import Subparsers


def add_site_tool_parsers(subparsers: Subparsers) -> None:
    """Register every site-operator command (manifest, publish, serve-site, verify, monitor,
    explore, preload, local-ca). ``serve-assets`` is a server:
    :func:`waict.log.assets.add_serve_assets_parser`."""
    add_manifest_parser(subparsers)
    add_publish_parser(subparsers)
    add_serve_site_parser(subparsers)
    add_verify_parser(subparsers)
    add_monitor_parser(subparsers)
    add_explore_parser(subparsers)
    add_preload_parser(subparsers)
    add_local_ca_parser(subparsers)
