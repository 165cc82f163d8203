"""``waict monitor``: watch domains in a transparency service and alert on what changes.

| module | what |
|---|---|
| :mod:`~waict.site.monitor.chain` | one domain's chain against what was seen last time |
| :mod:`~waict.site.monitor.manifests` | the manifest behind an entry, dev-ids, manifest diffs |
| :mod:`~waict.site.monitor.health` | witnesses behind, a stalled log |
| :mod:`~waict.site.monitor.alerts` | alert kinds, ids, webhook delivery |
| :mod:`~waict.site.monitor.watch` | the state file and one cycle over every domain |
| :mod:`~waict.site.monitor.command` | the command line |

See docs/monitor.md.
"""

from __future__ import annotations

from waict.site.monitor.chain import MonitorEvent, MonitorResult, MonitorState, monitor_domain
from waict.site.monitor.command import add_monitor_parser

__all__ = ["MonitorEvent", "MonitorResult", "MonitorState", "add_monitor_parser", "monitor_domain"]
