// Runs the shipped dev-sigs plugin's own check (plugins/dev-sigs/sw.js `judge`) in Node on
// the plugin views given as a JSON list on stdin; prints the list of decisions as JSON.
// The extension APIs the plugin touches when it loads are stubbed (it registers, and is
// never asked anything else here).
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const noop = { addListener() {} };
globalThis.chrome = {
  runtime: {
    sendMessage: async () => ({ ok: true }),
    onMessageExternal: noop,
    onInstalled: noop,
    onStartup: noop,
  },
};
const plugin = await import(pathToFileURL(process.argv[2]).href);
const views = JSON.parse(readFileSync(0, "utf8"));
const out = [];
for (const view of views) out.push(await plugin.judge(view));
process.stdout.write(JSON.stringify(out));
