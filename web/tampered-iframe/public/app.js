// The sample application. Every check sets a marker attribute on <html>
// (data-waict-<name>) and a line in #status, so a browser test can see what ran.
"use strict";

const root = document.documentElement;

function mark(name, value) {
  root.setAttribute("data-waict-" + name, value);
  const item = document.createElement("li");
  item.textContent = name + ": " + value;
  document.getElementById("status")?.append(item);
}

function within(ms, promise) {
  const late = new Promise((resolve) => setTimeout(() => resolve("timeout"), ms));
  return Promise.race([promise, late]);
}

function loaded() {
  return document.readyState === "complete"
    ? Promise.resolve()
    : new Promise((resolve) => window.addEventListener("load", resolve, { once: true }));
}

mark("app", "ran");

try {
  (0, eval)("1");
  mark("eval", "allowed");
} catch (e) {
  mark("eval", "blocked");
}

const checks = [];

checks.push(within(5000, new Promise((resolve) => {
  const worker = new Worker("/worker.js");
  worker.onmessage = (event) => resolve(event.data);
  worker.onerror = () => resolve("error");
})).then((v) => mark("worker", v)));

checks.push(within(5000, new Promise((resolve) => {
  if (typeof SharedWorker === "undefined") return resolve("unavailable");
  const shared = new SharedWorker("/shared-worker.js");
  shared.port.onmessage = (event) => resolve(event.data);
  shared.onerror = () => resolve("error");
  shared.port.start();
})).then((v) => mark("sharedworker", v)));

checks.push(within(5000, (async () => {
  if (!("serviceWorker" in navigator)) return "unavailable";
  try {
    await navigator.serviceWorker.register("/sw.js");
    await navigator.serviceWorker.ready;
    return "ran";
  } catch (e) {
    return "error";
  }
})()).then((v) => mark("serviceworker", v)));

checks.push(within(5000, (async () => {
  try {
    const { instance } = await WebAssembly.instantiateStreaming(fetch("/add.wasm"));
    return String(instance.exports.add(2, 3));
  } catch (e) {
    return "error";
  }
})()).then((v) => mark("wasm", v)));

checks.push(within(5000, new Promise((resolve) => {
  window.addEventListener("message", (event) => {
    if (event.data === "waict-frame:ran") resolve("ran");
  });
})).then((v) => mark("iframe", v)));

checks.push(within(5000, loaded().then(() => {
  const img = document.getElementById("logo");
  return img && img.complete && img.naturalWidth > 0 ? "loaded" : "error";
})).then((v) => mark("image", v)));

checks.push(loaded().then(() => {
  const value = getComputedStyle(root).getPropertyValue("--waict-style").trim();
  mark("style", value || "missing");
}));

Promise.allSettled(checks).then(() => mark("done", "1"));
