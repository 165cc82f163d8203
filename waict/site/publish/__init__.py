"""``waict publish``: build the manifest, upload it and every asset to the asset host, log it
with the transparency service, check the proof, and install what the site must serve.

Order of operations (the service checks that you control the domain by fetching
``/.well-known/waict-enroll`` from it, so the site must be up before the first publish)::

    waict serve-site DIR --port 8443 &          # serves the tree, the header, the manifest
    waict publish DIR --origin https://site.example --ts https://ts.example \\
        --assets https://assets.example --assets-token-file assets.token

First publish (no append token in the state directory, or ``--re-enroll``): a random token is
generated, ``.well-known/waict-enroll`` = ``{"resource_hash": b64, "asset_hosts": [...],
"token_sha256": b64u}`` is written into the served tree, ``POST /enroll/<host>`` is called,
and the token is kept in the state directory (mode 0600). Later publishes call
``POST /append/<host>`` with the bearer token and ``prev`` = ``H("waict-ch" || head)``, the
head read from ``GET /leaf/<host>`` (checked against the head this state directory last saw:
a log that moved back or on without us is reported, not papered over).

The answer (``ChainHeadWithProof``) is checked before anything is installed: it must commit
to this line and these asset hosts, link to the previous head, and prove the head in the
signed root; with ``--trust`` it is also verified exactly as a browser would
(:func:`verifier.transparency.verify_logged`). Then the state directory gets the manifest
response (``line \\n b64 proof \\n``), the header, and a history entry.

Variants: ``--unenroll`` (an ``emergency_opt_out`` tombstone manifest, logged as an all-zero
resource hash: a transparency tombstone); ``--line FILE`` (log an arbitrary one-line JSON
document, e.g. a preload list, instead of a built manifest; no header is installed);
``--v1 DEST...`` (an unlogged v1 manifest with ``blocked-destinations``, max-age 0);
``--no-log`` (a v2 manifest with an empty proof line, max-age 0); ``--dev-ids``/
``--dev-ids-next`` (developer identities; ``dev-ids-inclusion`` is taken from the history);
``--sign KEYFILE`` (``dev-sigs``: an Ed25519 signature by each key over the manifest without
``dev-sigs`` and ``dev-ids-inclusion``, :func:`verifier.devids.sign_dev_sigs`; every
``ed25519:`` dev-id must be signed, the rule of the shipped dev-sigs plugin).

``--assets`` may be repeated: every object is uploaded to every asset host (one after the
other, before anything is logged) and all of them are logged as the entry's asset hosts.

The steps are in :mod:`~waict.site.publish.pipeline`; the talk with the service in
:mod:`~waict.site.publish.enroll`; the checks of its answers in
:mod:`~waict.site.publish.checks`; the header in :mod:`~waict.site.publish.header`; dev-ids in
:mod:`~waict.site.publish.devids`; the command line in :mod:`~waict.site.publish.command`.
"""

from waict.site.publish.header import build_header
from waict.site.publish.options import AssetUpload, PublishOptions, PublishResult
from waict.site.publish.pipeline import publish

__all__ = ["AssetUpload", "PublishOptions", "PublishResult", "build_header", "publish"]
