"""The servers of the ecosystem: the transparency service (:mod:`~waict.log.service`, its
admission of enrolments and appends :mod:`~waict.log.accept`, its HTTP API
:mod:`~waict.log.api`, storage :mod:`~waict.log.storage` with the SQLite store
:mod:`~waict.log.store` and the PostgreSQL store :mod:`~waict.log.store_pg`, prefix tree
:mod:`~waict.log.tree`), the witness (:mod:`~waict.log.witness`, its state
:mod:`~waict.log.witness_state`), the asset host
(:mod:`~waict.log.assets`), their HTTP helpers (:mod:`~waict.log.http`), key files
(:mod:`~waict.log.keys`) and their commands (:mod:`~waict.log.commands`: ``serve-ts``,
``serve-witness``, ``keygen``; ``serve-assets`` is in :mod:`~waict.log.assets`).

Import rule: ``waict.log`` imports only :mod:`verifier` and :mod:`waict.common`, never
``waict.site`` or ``waict.demo`` (tests/unit/test_waict_layout.py).
"""
