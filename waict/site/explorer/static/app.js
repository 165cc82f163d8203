// The log explorer's page: asks its own server's /api/* and renders with textContent only.
"use strict";

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function api(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

function short(hash) {
  return hash.length > 16 ? `${hash.slice(0, 12)}…` : hash;
}

function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

function tag(text, kind) {
  return el("span", { class: `tag ${kind || ""}` }, text);
}

let current = null;

async function loadOverview() {
  const o = await api("/api/overview");
  const s = o.status || {};
  $("service").textContent = s.error
    ? `${o.ts}: ${s.error}`
    : `${s.name} at ${o.ts} — ${s.batches} batches, ${s.cosigned} cosigned, ${s.domains} domains in the tree`;
  const list = $("domains");
  list.replaceChildren();
  for (const d of o.watched) {
    const button = el(
      "button",
      { type: "button", "data-domain": d.domain, onclick: () => showDomain(d.domain) },
      el("strong", {}, d.domain),
      el("br"),
      el("span", { class: "muted" }, `${plural(d.size, "entry", "entries")}, ${plural(d.manifests_known, "manifest", "manifests")} known`),
    );
    list.append(el("li", {}, button));
  }
  if (!o.watched.length) list.append(el("li", { class: "muted" }, "none yet: run waict monitor"));
  $("all-domains").textContent =
    o.all_domains === null
      ? "All domains: the service offers no listing (only their number)."
      : `All domains: ${o.all_domains.join(", ")}`;
}

async function loadCheckpoint() {
  const box = $("checkpoint");
  try {
    const c = await api("/api/checkpoint");
    const rows = c.cosignatures.map((s) =>
      el(
        "tr",
        {},
        el("td", {}, s.witness),
        el("td", {}, s.kind === "cosignature" ? `${s.age_text} ago` : s.kind),
        el(
          "td",
          {},
          s.verified ? tag("verified", "ok") : s.trusted ? tag("invalid", "bad") : tag("not trusted", "warn"),
        ),
      ),
    );
    box.className = "";
    box.replaceChildren(
      el("dl", {}, el("dt", {}, "service"), el("dd", {}, c.ts_domain),
        el("dt", {}, "batches"), el("dd", {}, c.batch_count),
        el("dt", {}, "root"), el("dd", { class: "mono" }, short(c.root))),
      el("table", { id: "witnesses" },
        el("thead", {}, el("tr", {}, el("th", {}, "witness"), el("th", {}, "cosigned"), el("th", {}, ""))),
        el("tbody", {}, rows)),
    );
  } catch (err) {
    box.textContent = `checkpoint unavailable: ${err.message}`;
  }
}

async function showDomain(domain) {
  current = domain;
  for (const b of document.querySelectorAll("#domains button")) {
    b.classList.toggle("selected", b.dataset.domain === domain);
  }
  $("chain-title").textContent = domain;
  $("chain-note").textContent = "loading…";
  $("proof").hidden = true;
  $("diff").hidden = true;
  let c;
  try {
    c = await api(`/api/chain/${encodeURIComponent(domain)}`);
  } catch (err) {
    $("chain-note").textContent = err.message;
    return;
  }
  if (!c.enrolled) {
    $("chain-note").textContent = `${domain} is not in the service's tree.`;
    $("chain").hidden = true;
    $("verify").hidden = true;
    return;
  }
  $("chain-note").textContent =
    plural(c.size, "entry", "entries") + (c.first_shown ? ` (the newest ${c.size - c.first_shown} shown)` : "");
  const body = $("chain").querySelector("tbody");
  body.replaceChildren();
  for (const e of [...c.entries].reverse()) {
    const manifest = e.tombstone
      ? tag("transparency tombstone", "bad")
      : el("span", {}, el("code", { title: e.resource_hash }, short(e.resource_hash)), " ",
          e.manifest_known ? tag("manifest known", "ok") : tag("manifest not found", "warn"));
    const dev = e.dev
      ? [e.dev["dev-ids"] ? e.dev["dev-ids"].join(", ") : "—",
         e.dev["dev-ids-next"] ? el("div", { class: "muted" }, `next: ${e.dev["dev-ids-next"].join(", ")}`) : null]
      : "";
    const action = e.manifest_known
      ? el("button", { type: "button", class: "diff-button", onclick: () => showDiff(domain, e.position) }, "diff")
      : "";
    body.append(
      el("tr", { class: e.tombstone ? "tombstone" : "", "data-position": e.position },
        el("td", {}, e.position),
        el("td", {}, e.time_text, el("div", { class: "muted" }, `${e.age_text} ago`)),
        el("td", {}, manifest),
        el("td", {}, dev),
        el("td", { class: "mono" }, e.asset_hosts ? e.asset_hosts.join(" ") : "?"),
        el("td", {}, action)),
    );
  }
  $("chain").hidden = false;
  $("verify").hidden = false;
}

function hashList(title, cls, entries, render) {
  if (!entries.length) return null;
  return el("div", {}, el("h3", {}, title),
    el("ul", { class: cls }, entries.map((item) => el("li", {}, render(item)))));
}

async function showDiff(domain, position) {
  const box = $("diff");
  box.hidden = false;
  box.textContent = "loading…";
  let d;
  try {
    d = await api(`/api/diff/${encodeURIComponent(domain)}?to=${position}`);
  } catch (err) {
    box.textContent = err.message;
    return;
  }
  const h = d.diff.hashes;
  const title = d.from === null
    ? `Manifest #${d.to} (no earlier manifest known: everything is new)`
    : `What changed from manifest #${d.from} to #${d.to}`;
  const parts = [
    el("h2", {}, title),
    el("p", { class: "muted" },
      `${Object.keys(h.added).length} added, ${Object.keys(h.removed).length} removed, ` +
      `${Object.keys(h.changed).length} changed, ${d.diff.unchanged} unchanged URLs`),
    hashList("Added", "added", Object.entries(h.added), ([u, v]) => [`+ ${u} `, el("code", {}, short(v))]),
    hashList("Removed", "removed", Object.entries(h.removed), ([u, v]) => [`− ${u} `, el("code", {}, short(v))]),
    hashList("Changed", "changed", Object.entries(h.changed),
      ([u, [a, b]]) => [`~ ${u} `, el("code", {}, short(a)), " → ", el("code", {}, short(b))]),
  ];
  for (const [name, c] of Object.entries(d.diff.dev)) {
    parts.push(el("h3", {}, name),
      el("p", { class: "dev-change" },
        `${JSON.stringify(c.before)} → ${JSON.stringify(c.after)}`,
        c.added.length ? el("span", { class: "added" }, `  added: ${c.added.join(", ")}`) : null,
        c.removed.length ? el("span", { class: "removed" }, `  removed: ${c.removed.join(", ")}`) : null));
  }
  for (const [name, c] of Object.entries(d.diff.other)) {
    parts.push(el("h3", {}, `member ${name}`),
      el("p", {}, `${JSON.stringify(c.before)} → ${JSON.stringify(c.after)}`));
  }
  box.replaceChildren(...parts.filter(Boolean));
}

async function verifyProof() {
  const box = $("proof");
  box.hidden = false;
  box.textContent = "checking…";
  let p;
  try {
    p = await api(`/api/proof/${encodeURIComponent(current)}`);
  } catch (err) {
    box.textContent = err.message;
    return;
  }
  const words = { ok: "Proof verified", fail: "Proof FAILS", unchecked: "Proof not fully checked (no trust)" };
  const checks = p.checks.map((c) =>
    el("tr", {}, el("td", {}, c.check),
      el("td", {}, c.ok === true ? tag("OK", "ok") : c.ok === false ? tag("FAIL", "bad") : tag("skipped", "warn")),
      el("td", {}, c.detail)));
  const sigs = (p.cosignatures || []).map((s) =>
    el("tr", {}, el("td", {}, s.witness), el("td", {}, s.time_text),
      el("td", {}, `${s.age_text} old`), el("td", {}, s.fresh ? tag("verified, fresh", "ok") : tag("verified, stale", "warn"))));
  box.replaceChildren(
    el("div", { class: `verdict ${p.verdict}`, id: "verdict" }, words[p.verdict] || p.verdict),
    p.head ? el("p", {}, `head #${p.head.position} of ${p.domain}, ${p.head.time_text}, under the root after ${p.batch_count} batches of ${p.ts_domain}`) : null,
    el("table", { id: "checks" }, el("thead", {}, el("tr", {}, el("th", {}, "check"), el("th", {}, ""), el("th", {}, "details"))), el("tbody", {}, checks)),
    sigs.length ? el("h3", {}, "Cosignatures") : null,
    sigs.length ? el("table", {}, el("tbody", {}, sigs)) : null,
  );
}

document.addEventListener("DOMContentLoaded", () => {
  $("verify").addEventListener("click", verifyProof);
  loadOverview().catch((err) => { $("service").textContent = err.message; });
  loadCheckpoint();
});
