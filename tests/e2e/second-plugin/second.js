// A second WAICT plugin for the e2e tests (tests/e2e/test_plugins.py): it does nothing on
// its own; a test sends its messages from here (its sender id is this extension's).
const WAICT = "jjjinacfkghmlcgnadipofmhdmcgflbb";
globalThis.secondPlugin = {
  send: (message) => chrome.runtime.sendMessage(WAICT, message),
};
chrome.runtime.onMessageExternal.addListener((msg, sender, reply) => {
  reply({ verdict: "approve" });
  return false;
});
