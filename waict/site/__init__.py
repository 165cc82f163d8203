"""Site-operator tooling: build, publish, serve, verify and watch a WAICT site.

| command | module | function that registers it |
|---|---|---|
| ``waict manifest build`` | :mod:`waict.site.manifest` | ``add_manifest_parser`` |
| ``waict publish`` | :mod:`waict.site.publish` (a package) | ``add_publish_parser`` |
| ``waict serve-site`` | :mod:`waict.site.serve` | ``add_serve_site_parser`` |
| ``waict verify`` | :mod:`waict.site.verify`, :mod:`waict.site.report` | ``add_verify_parser`` |
| ``waict monitor`` | :mod:`waict.site.monitor` (a package) | ``add_monitor_parser`` |
| ``waict explore`` | :mod:`waict.site.explorer` (a package) | ``add_explore_parser`` |
| ``waict preload`` | :mod:`waict.site.preload` | ``add_preload_parser`` |
| ``waict local-ca`` | :mod:`waict.site.local_ca` | ``add_local_ca_parser`` |

:func:`waict.site.commands.add_site_tool_parsers` registers all of them at once.

What they share: :mod:`~waict.site.html` (HTML scan), :mod:`~waict.site.state` (the state
directory), :mod:`~waict.site.log_client` (the transparency service's API),
:mod:`~waict.site.asset_client` (uploads to the asset host), :mod:`~waict.site.http_client`,
:mod:`~waict.site.names` (header, media type, manifest URLs, state directory),
:mod:`~waict.site.content_types`, :mod:`~waict.site.origins`, :mod:`~waict.site.times`,
:mod:`~waict.site.progress`, :mod:`~waict.site.wiring` (the trust file, the client options
``--timeout/--resolve/--insecure``, serving a web app: the set-up of the commands).

Import rule: ``waict.site`` imports only :mod:`verifier` and :mod:`waict.common`, never
``waict.log`` (the servers) or ``waict.demo``: the clients it needs live here
(tests/unit/test_waict_layout.py).
"""
