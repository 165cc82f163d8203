"""What ``waict verify`` found: every fetch (:class:`Fetched`), inline code as the browser's
CSP treats it (:class:`InlineFinding`), the verdict (:class:`VerifyReport`), and the report
as text (:func:`render`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from verifier.decide import ManifestVerdict
from verifier.encoding import b64encode, b64uencode
from verifier.errors import WaictError
from verifier.urls import origin_of
from waict.site.html import InlineCode
from waict.site.times import format_age, format_time


@dataclass
class Fetched:
    url: str
    destination: str
    found_in: str  # "page", "manifest", a script or frame URL
    body: bytes | None = None
    status: int | None = None
    content_type: str = ""
    error: str | None = None


@dataclass(frozen=True)
class InlineFinding:
    page: str
    code: InlineCode
    allowed: bool
    reason: str | None  # None when listed / not covered

    def as_json(self) -> dict[str, Any]:
        return {
            "page": self.page,
            "kind": self.code.kind,
            "line": self.code.line,
            "hash": b64uencode(self.code.digest),
            "allowed": self.allowed,
            "reason": self.reason,
        }


@dataclass
class VerifyReport:
    url: str
    scenario: dict[str, Any]
    verdict: dict[str, Any]
    manifest_verdict: ManifestVerdict
    header: str | None
    manifest_url: str | None
    resources: list[Fetched]
    skipped: list[Fetched]
    inline: list[InlineFinding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        if self.verdict["navigation"] != "allow":
            return True
        if any(not r["allowed"] for r in self.verdict["resources"]):
            return True
        return any(not f.allowed for f in self.inline)

    @property
    def exit_code(self) -> int:
        return 1 if self.blocked else 0


def same_origin(a: str, b: str) -> bool:
    """Whether two URLs have the same origin (False when either has none)."""
    try:
        return origin_of(a) == origin_of(b)
    except WaictError:
        return False


def _short(url: str, page_url: str) -> str:
    if same_origin(url, page_url):
        parts = urlsplit(url)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return url


def render(report: VerifyReport, now: int) -> str:
    lines: list[str] = []
    v = report.verdict
    m = report.manifest_verdict
    nav = "ALLOW" if v["navigation"] == "allow" else "BLOCK"
    lines.append(f"{report.url}: navigation {nav}")
    lines.append(f"  header:   {report.header if report.header is not None else '(none)'}")
    if report.manifest_url:
        lines.append(f"  manifest: {report.manifest_url}")
    status = v["manifest"]["status"]
    detail = ""
    if v["manifest"]["reason"]:
        detail = f" ({v['manifest']['reason']}: {v['manifest']['detail']})"
    lines.append(f"  status:   {status}{detail}")
    if m.message and status == "invalid":
        lines.append(f"            {m.message}")
    if m.policy is not None:
        lines.append(
            f"  mode:     {m.policy.mode}, max-age {m.policy.max_age}"
            + (" (v1 header)" if m.policy.is_v1 else "")
        )
    if m.proven is not None:
        head = m.proven.head.entry
        lines.append(
            f"  logged:   position {head.position} at {format_time(head.time_created)} "
            f"({format_age(now - head.time_created)} ago) by {m.proven.ts_domain}"
        )
        for c in m.proven.counted:
            lines.append(
                f"            cosigned by {c.witness}, {format_age(now - c.timestamp)} ago"
            )
    if m.preload is not None:
        lines.append("  preload:  the host is on the preload list")
    lines.append(f"  resources ({len(v['resources'])}):")
    by_url = {f.url: f for f in report.resources}
    for r in v["resources"]:
        f = by_url.get(r["url"])
        dest = f.destination if f else "?"
        if r["reason"] is None:
            tag = "ok"
        elif r["allowed"]:
            tag = "REPORT"
        else:
            tag = "BLOCKED"
        reason = f"  {r['reason']}" if r["reason"] else ""
        lines.append(f"    {tag:<8} {dest:<13} {_short(r['url'], report.url)}{reason}")
    for f in report.skipped:
        lines.append(
            f"    {'-':<8} {f.destination:<13} {_short(f.url, report.url)}  not fetched: {f.error}"
        )
    if report.inline:
        lines.append(f"  inline code ({len(report.inline)}):")
        for finding in report.inline:
            tag = (
                "ok" if finding.reason is None else ("BLOCKED" if not finding.allowed else "REPORT")
            )
            reason = f"  {finding.reason}" if finding.reason else ""
            lines.append(
                f"    {tag:<8} {finding.code.kind:<16} {_short(finding.page, report.url)} line "
                f"{finding.code.line} sha256-{b64encode(finding.code.digest)}{reason}"
            )
    for note in report.notes:
        lines.append(f"  note: {note}")
    blocked = sum(1 for r in v["resources"] if not r["allowed"])
    blocked += sum(1 for f in report.inline if not f.allowed)
    reported = sum(1 for r in v["resources"] if r["allowed"] and r["reason"])
    if report.blocked:
        what = "navigation blocked" if v["navigation"] == "block" else f"{blocked} blocked"
        lines.append(f"verdict: BLOCKED ({what})")
    elif reported:
        lines.append(f"verdict: allowed (report mode: {reported} would be blocked)")
    else:
        lines.append("verdict: allowed")
    return "\n".join(lines) + "\n"
