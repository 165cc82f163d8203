"""Site-operator tooling: the public face of the ``waict/site_*.py`` modules.

| command | module | function that registers it |
|---|---|---|
| ``waict manifest build`` | :mod:`waict.site.manifest` | ``add_manifest_parser`` |
| ``waict publish`` | :mod:`waict.site.publish` | ``add_publish_parser`` |
| ``waict serve-site`` | :mod:`waict.site.serve` | ``add_serve_site_parser`` |
| ``waict verify`` | :mod:`waict.site.verify` | ``add_verify_parser`` |
| ``waict monitor`` | :mod:`waict.site.monitor` | ``add_monitor_parser`` |
| ``waict preload`` | :mod:`waict.site.preload` | ``add_preload_parser`` |
| ``waict serve-assets`` | :mod:`waict.log.assets` | ``add_serve_assets_parser`` |

:func:`add_site_tool_parsers` registers all of them at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from waict.log.assets import add_serve_assets_parser, create_assets_app, upload_asset
from waict.site.manifest import add_manifest_parser, build_manifest
from waict.site.monitor import add_monitor_parser, monitor_domain
from waict.site.preload import add_preload_parser, preload_body_from_state
from waict.site.publish import PublishOptions, add_publish_parser, publish
from waict.site.serve import add_serve_site_parser, create_site_app
from waict.site.verify import add_verify_parser, verify_site

if TYPE_CHECKING:
    from waict.site.common import Subparsers

__all__ = [
    "PublishOptions",
    "add_manifest_parser",
    "add_monitor_parser",
    "add_preload_parser",
    "add_publish_parser",
    "add_serve_assets_parser",
    "add_serve_site_parser",
    "add_site_tool_parsers",
    "add_verify_parser",
    "build_manifest",
    "create_assets_app",
    "create_site_app",
    "monitor_domain",
    "preload_body_from_state",
    "publish",
    "upload_asset",
    "verify_site",
]


def add_site_tool_parsers(subparsers: Subparsers) -> None:
    """Register every site-operator command (manifest, publish, serve-site, verify, monitor,
    preload, serve-assets)."""
    add_manifest_parser(subparsers)
    add_publish_parser(subparsers)
    add_serve_site_parser(subparsers)
    add_verify_parser(subparsers)
    add_monitor_parser(subparsers)
    add_preload_parser(subparsers)
    add_serve_assets_parser(subparsers)
