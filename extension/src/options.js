// Options: override the shipped trust.json and preload.waict (stored in chrome.storage.local).
const trustEl = document.getElementById("trust");
const preloadEl = document.getElementById("preload");
const msg = document.getElementById("msg");

function b64ToText(b64) {
  const bin = atob(b64);
  return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}
function textToB64(text) {
  const bytes = new TextEncoder().encode(text);
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

(async () => {
  const { settings } = await chrome.storage.local.get("settings");
  if (settings && settings.trust) trustEl.value = JSON.stringify(settings.trust, null, 2);
  if (settings && settings.preload) preloadEl.value = b64ToText(settings.preload);
})();

document.getElementById("save").addEventListener("click", async () => {
  const settings = {};
  try {
    if (trustEl.value.trim()) settings.trust = JSON.parse(trustEl.value);
  } catch (e) {
    msg.textContent = `Trust settings are not JSON: ${e.message}`;
    return;
  }
  if (preloadEl.value.trim()) {
    let text = preloadEl.value.replace(/\r\n/g, "\n");
    if (!text.endsWith("\n")) text += "\n";
    settings.preload = textToB64(text);
  }
  await chrome.storage.local.set({ settings });
  await chrome.runtime.sendMessage({ type: "settings-changed" });
  msg.textContent = "Saved.";
});
