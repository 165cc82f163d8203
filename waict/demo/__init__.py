"""The demo: the whole ecosystem on loopback with the sample sites of ``web/``
(:mod:`~waict.demo.ecosystem`), every site in Chromium with the real extension
(:mod:`~waict.demo.browser`, with :mod:`~waict.demo.chromium` and
:mod:`~waict.demo.observation`), and ``waict demo`` that puts both together
(:mod:`~waict.demo.command`). What the ecosystem and the browser part share is in
:mod:`~waict.demo.sites`, so neither imports the other.

Import rule: ``waict.demo`` may import :mod:`waict.log`, :mod:`waict.site`,
:mod:`waict.common` and :mod:`verifier`; no wing imports ``waict.demo``
(tests/unit/test_waict_layout.py).
"""
