// The room page: starts the MLS worker (/mls-worker.js), shows what it posts (the safety
// number above all), and, with #ds=..., joins a room of the delivery service through it.
//
// Options go in the URL's fragment, which never leaves the browser: the room's name may
// be an invitation secret, and a WAICT manifest lists the page's URL without it (a query
// would make another URL, one the manifest does not list).
//
//   /#ds=ws://127.0.0.1:8020&room=NAME    join room NAME (docs/room.md)
//     &chat=MS                            send an MLS application message every MS ms
//     &sfu=http://127.0.0.1:8021          send the camera through the SFU, and show the
//                                         other members' video (waict serve-sfu)
//     &encrypt=0                          frames in clear (a test of the tests only)
//     &welcome=first                      the published "first Welcome wins" rule (tests)
//     &die=UID                            as committer, crash right after sending UID's
//                                         Welcome, before its Add (tests)
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

const params = new URLSearchParams(location.hash.slice(1));
const worker = new Worker("/mls-worker.js");
let settled = false;

function settle(value) {
  if (settled) return;
  settled = true;
  mark("worker", value);
  mark("done", "1");
  if (value === "ran" && params.get("ds")) join();
}

setTimeout(() => settle("timeout"), 20000); // loading ts-mls and a KeyPackage: well under 1 s
worker.onerror = () => settle("error");

function join() {
  const url = params.get("ds").replace(/\/$/, "") + "/rooms/" + encodeURIComponent(params.get("room") || "lobby");
  const chat = Number(params.get("chat") || 0);
  worker.postMessage({
    type: "join", url, chat, welcomeRule: params.get("welcome"), dieAfterWelcomeTo: params.get("die"),
  });
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
  else if (m.type === "status") {
    show(m);
    media(m);
  }
};

// --- media: every frame goes through the worker (RTCRtpScriptTransform) ---------------

const sfu = params.get("sfu");
const publishing = { started: false };
const subscriptions = new Map(); // uid -> {pc, video}

async function waitForIce(pc) {
  if (pc.iceGatheringState === "complete") return;
  await new Promise((resolve) => {
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") resolve();
    });
  });
}

function preferVp8(transceiver) {
  const codecs = RTCRtpReceiver.getCapabilities("video").codecs.filter(
    (c) => c.mimeType.toLowerCase() === "video/vp8",
  );
  transceiver.setCodecPreferences(codecs);
}

async function negotiate(pc, url) {
  await pc.setLocalDescription(await pc.createOffer());
  await waitForIce(pc);
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ type: "offer", sdp: pc.localDescription.sdp }),
  });
  if (!response.ok) throw new Error("SFU: " + response.status);
  await pc.setRemoteDescription(await response.json());
}

async function publish(s) {
  publishing.started = true;
  if (params.get("encrypt") === "0") worker.postMessage({ type: "encrypt", on: false });
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { width: 320, height: 240, frameRate: 15 },
    audio: false,
  });
  const local = document.createElement("video");
  local.id = "local";
  local.muted = true;
  local.autoplay = true;
  local.srcObject = stream;
  document.getElementById("videos").append(local);
  const pc = new RTCPeerConnection();
  const transceiver = pc.addTransceiver(stream.getVideoTracks()[0], { direction: "sendonly" });
  preferVp8(transceiver);
  // the worker encrypts every frame with the group's current epoch before it leaves
  transceiver.sender.transform = new RTCRtpScriptTransform(worker, { side: "send" });
  const base = sfu.replace(/\/$/, "") + "/rooms/" + encodeURIComponent(params.get("room") || "lobby");
  await negotiate(pc, `${base}/publish/${s.uid}`);
  publishing.pc = pc;
  root.dataset.roomPublishing = "1";
}

async function subscribe(uid) {
  const pc = new RTCPeerConnection();
  const entry = { pc, video: null };
  subscriptions.set(uid, entry);
  const transceiver = pc.addTransceiver("video", { direction: "recvonly" });
  preferVp8(transceiver);
  // frames are decrypted (and dropped when they do not decrypt) before the decoder
  transceiver.receiver.transform = new RTCRtpScriptTransform(worker, { side: "receive", sender: uid });
  pc.ontrack = (event) => {
    const video = document.createElement("video");
    video.autoplay = true;
    video.muted = true;
    video.dataset.uid = String(uid);
    video.srcObject = new MediaStream([event.track]);
    document.getElementById("videos").append(video);
    entry.video = video;
  };
  const base = sfu.replace(/\/$/, "") + "/rooms/" + encodeURIComponent(params.get("room") || "lobby");
  try {
    await negotiate(pc, `${base}/subscribe/${uid}`);
  } catch (e) {
    pc.close(); // not publishing yet: try again on a later status
    subscriptions.delete(uid);
  }
}

function media(s) {
  if (!sfu || s.removed) return;
  if (s.confirmed && s.epoch !== null && !publishing.started) {
    publish(s).catch((e) => root.setAttribute("data-room-media-error", String(e)));
  }
  const others = new Set(s.members.filter((u) => u !== s.uid));
  for (const uid of others) {
    if (!subscriptions.has(uid) && s.confirmed) subscribe(uid);
  }
  for (const [uid, entry] of subscriptions) {
    if (!others.has(uid)) {
      // a member removed from the group: its frames are not rendered any more
      entry.pc.close();
      entry.video?.remove();
      subscriptions.delete(uid);
    }
  }
}
