// Run a Python program under Pyodide in Node, with the project's wheels loaded.
//
// Usage:
//   node tests/pyodide/runner.mjs PROGRAM.py [--wheels DIR_OR_WHEEL]... [--mount HOST_DIR:PYODIDE_DIR]...
//
// - Pyodide comes from <repo>/node_modules/pyodide (`npm ci`; see scripts/setup.sh).
// - Every `*.whl` in each --wheels directory (or each --wheels file) is loaded with
//   `pyodide.loadPackage(<absolute path>)`, in name order. Without --wheels, the wheels in
//   <repo>/build/wheels are loaded (`python scripts/fetch_wheels.py` puts them there).
//   No network is used: everything is loaded from local files.
// - Each --mount makes a host directory visible inside Pyodide (Emscripten NODEFS). It is the
//   real host directory, so the program must treat it as read-only.
// - PROGRAM.py runs with `runPythonAsync` (top-level `await` works).
//
// Contract with the program:
// - The program's RESULT is the global `RESULT`: it must be JSON-serializable by Python's
//   `json.dumps`. The runner prints `json.dumps(RESULT)` as ONE line on stdout, and nothing else
//   goes to stdout. A program that never sets RESULT gives `null`.
// - Whatever the program prints (stdout and stderr) goes to the runner's stderr.
// - On a Python exception (or a RESULT that is not JSON-serializable) the runner prints the
//   Python traceback to stderr and exits with status 1. Bad usage exits with status 2.
// - Timings go to stderr as lines starting with "[pyodide-runner]".

import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "..", "..");
const log = (msg) => process.stderr.write(`[pyodide-runner] ${msg}\n`);
const ms = (t) => `${Math.round(t)} ms`;

function usage(msg) {
  process.stderr.write(
    `${msg}\nusage: node tests/pyodide/runner.mjs PROGRAM.py ` +
      `[--wheels DIR_OR_WHEEL]... [--mount HOST_DIR:PYODIDE_DIR]...\n`,
  );
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { program: null, wheels: [], mounts: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--wheels" || arg === "--mount") {
      const value = argv[++i];
      if (value === undefined) usage(`${arg} needs a value`);
      if (arg === "--wheels") opts.wheels.push(path.resolve(value));
      else {
        const sep = value.lastIndexOf(":");
        if (sep <= 0 || !value.slice(sep + 1).startsWith("/")) {
          usage(`--mount wants HOST_DIR:/ABSOLUTE/PYODIDE/DIR, got ${value}`);
        }
        opts.mounts.push([path.resolve(value.slice(0, sep)), value.slice(sep + 1)]);
      }
    } else if (opts.program === null) {
      opts.program = path.resolve(arg);
    } else {
      usage(`unexpected argument ${arg}`);
    }
  }
  if (opts.program === null) usage("missing PROGRAM.py");
  if (opts.wheels.length === 0) opts.wheels.push(path.join(repoRoot, "build", "wheels"));
  return opts;
}

function listWheels(sources) {
  const wheels = [];
  for (const src of sources) {
    if (!existsSync(src)) {
      usage(`no such wheel or directory: ${src} (run: python scripts/fetch_wheels.py)`);
    }
    if (statSync(src).isDirectory()) {
      const found = readdirSync(src)
        .filter((name) => name.endsWith(".whl"))
        .sort()
        .map((name) => path.join(src, name));
      if (found.length === 0) usage(`no *.whl in ${src} (run: python scripts/fetch_wheels.py)`);
      wheels.push(...found);
    } else {
      wheels.push(src);
    }
  }
  return wheels;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const source = readFileSync(opts.program, "utf8");
  const wheels = listWheels(opts.wheels);

  const pyodideDir = path.join(repoRoot, "node_modules", "pyodide");
  if (!existsSync(path.join(pyodideDir, "pyodide.mjs"))) {
    log(`Pyodide is not installed in ${pyodideDir}: run \`npm ci\` (or bash scripts/setup.sh)`);
    process.exit(2);
  }
  const { loadPyodide } = await import(pathToFileURL(path.join(pyodideDir, "pyodide.mjs")).href);

  const tStart = performance.now();
  const pyodide = await loadPyodide({
    indexURL: pyodideDir + path.sep,
    // Keep stdout for the JSON result only.
    stdout: (line) => process.stderr.write(`${line}\n`),
    stderr: (line) => process.stderr.write(`${line}\n`),
  });
  const tReady = performance.now();
  log(
    `Pyodide ${pyodide.version} cold start: loadPyodide ${ms(tReady - tStart)}, ` +
      `node process start to ready ${ms(process.uptime() * 1000)}`,
  );

  // Under Node, loadPackage takes an absolute file path (a file:// URL works too; checked with
  // Pyodide 314.0.7). A bare package name would go to the CDN, which is not reachable here.
  await pyodide.loadPackage(wheels, {
    messageCallback: (msg) => log(msg),
    errorCallback: (msg) => log(`error: ${msg}`),
    checkIntegrity: false,
  });
  const tWheels = performance.now();
  log(`loaded ${wheels.length} wheel(s) in ${ms(tWheels - tReady)}: ${wheels.map((w) => path.basename(w)).join(", ")}`);

  for (const [hostDir, guestDir] of opts.mounts) {
    pyodide.FS.mkdirTree(guestDir);
    pyodide.mountNodeFS(guestDir, hostDir);
    log(`mounted ${hostDir} at ${guestDir}`);
  }

  let output;
  try {
    const globals = pyodide.toPy({ __name__: "__main__" });
    await pyodide.runPythonAsync(source, { globals, filename: opts.program });
    globals.set("__runner_json__", pyodide.runPython("__import__('json')"));
    output = pyodide.runPython(
      "__runner_json__.dumps(globals().get('RESULT'), allow_nan=False)",
      { globals },
    );
  } catch (err) {
    process.stderr.write(`${err && err.message ? err.message : err}\n`);
    log(`FAILED after ${ms(process.uptime() * 1000)}`);
    process.exit(1);
  }
  const tDone = performance.now();
  process.stdout.write(`${output}\n`);
  log(`program ran in ${ms(tDone - tWheels)}; total ${ms(process.uptime() * 1000)}`);
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
