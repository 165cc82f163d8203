// The room page: starts the MLS worker (/mls-worker.js), shows what it posts (the safety
// number above all), and, with ?ds=..., joins a room of the delivery service through it.
//
//   /?ds=ws://127.0.0.1:8020&room=NAME    join room NAME (docs/room.md)
//     &chat=MS                            send an MLS application message every MS ms
//
// Markers on <html> (as on every sample site, web/README.md): data-waict-app (this script
// ran), data-waict-worker (ran | error | timeout: the MLS worker loaded ts-mls and made
// a KeyPackage), data-waict-done. Nothing is sent anywhere before the worker is ready:
// a worker the browser refused (WAICT) never joins, and no frame leaves the page.
"use strict";

const root = document.documentElement;

function mark(name, value) {
  root.setAttribute("data-waict-" + name, value);
  const item = document.createElement("li");
  item.textContent = name + ": " + value;
  document.getElementById("status")?.append(item);
}

mark("app", "ran");

const params = new URLSearchParams(location.search);
const worker = new Worker("/mls-worker.js");
let settled = false;

function settle(value) {
  if (settled) return;
  settled = true;
  mark("worker", value);
  mark("done", "1");
  if (value === "ran" && params.get("ds")) join();
}

setTimeout(() => settle("timeout"), 10000);
worker.onerror = () => settle("error");

function join() {
  const url = params.get("ds").replace(/\/$/, "") + "/rooms/" + encodeURIComponent(params.get("room") || "lobby");
  const chat = Number(params.get("chat") || 0);
  worker.postMessage({ type: "join", url, chat });
  document.getElementById("leave").addEventListener("click", () => worker.postMessage({ type: "leave" }));
}

function show(s) {
  window.roomStatus = s;
  document.getElementById("safety").textContent = s.safety || "(not in a group yet)";
  document.getElementById("epoch").textContent = s.epoch === null ? "-" : String(s.epoch);
  document.getElementById("uid").textContent = String(s.uid);
  document.getElementById("members").textContent = s.members.join(", ") || "-";
  document.getElementById("role").textContent = s.removed ? "removed" : s.dc ? "committer" : "";
  root.dataset.roomEpoch = s.epoch === null ? "" : String(s.epoch);
  root.dataset.roomSafety = s.safety;
}

worker.onmessage = (event) => {
  const m = event.data;
  if (m.type === "ready") settle("ran");
  else if (m.type === "error") settle("error");
  else if (m.type === "status") show(m);
};
