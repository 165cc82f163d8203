"""``waict explore``: the log explorer (a web page) over a transparency service and a
monitor's state. :mod:`~waict.site.explorer.views` computes what the page shows (proofs are
checked there, with :mod:`verifier`); :mod:`~waict.site.explorer.app` serves it and the
page's files in ``static/``. See docs/monitor.md."""
