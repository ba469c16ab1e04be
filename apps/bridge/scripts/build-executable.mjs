// Builds the self-contained `livekit-bridge` executable (linux-x64) as a Node single
// executable application: esbuild bundles the built bridge (dist/) into one CommonJS file,
// Node 24 turns it into a SEA blob (with V8's code cache and rtc-node's native addon as an
// asset), and postject injects the blob into a copy of that same Node binary.
// Skips the slow steps when the bundle, the addon and the Node binary are what the last
// build used (a stamp file beside the executable). See docs/executable.md.
// Usage: node build-executable.mjs --node <node 24 binary> --out <executable path>
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { parseArgs } from "node:util";
import * as esbuild from "esbuild";
import { inject } from "postject";

const HERE = path.dirname(new URL(import.meta.url).pathname);
const APP = path.join(HERE, "..");
const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";
const ADDON_ASSET = "rtc-node.node";
const PLATFORM_PACKAGE = "@livekit/rtc-ffi-bindings-linux-x64-gnu";

const { values } = parseArgs({
  options: { node: { type: "string" }, out: { type: "string" } },
});
if (values.node === undefined || values.out === undefined) {
  throw new Error("usage: build-executable.mjs --node <node binary> --out <executable>");
}
const nodeBinary = path.resolve(values.node);
const out = path.resolve(values.out);
const work = `${out}.build`;
const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;
const log = (text) => process.stderr.write(`[build-executable] ${text}\n`);

const readJson = (file) => JSON.parse(fs.readFileSync(file, "utf8"));
const requireFromApp = createRequire(path.join(APP, "package.json"));
const rtcNodeDir = path.dirname(path.dirname(requireFromApp.resolve("@livekit/rtc-node")));
const requireFromRtcNode = createRequire(path.join(rtcNodeDir, "package.json"));
const ffiDir = path.dirname(requireFromRtcNode.resolve("@livekit/rtc-ffi-bindings/package.json"));
const platformDir = path.dirname(
  createRequire(path.join(ffiDir, "package.json")).resolve(`${PLATFORM_PACKAGE}/package.json`),
);
const ffiVersion = readJson(path.join(ffiDir, "package.json")).version;
const platformVersion = readJson(path.join(platformDir, "package.json")).version;
if (ffiVersion !== platformVersion) {
  throw new Error(`rtc-ffi-bindings ${ffiVersion} but ${PLATFORM_PACKAGE} ${platformVersion}`);
}
const addonFile = path.join(platformDir, "rtc-node.linux-x64-gnu.node");
const rtcNodeVersion = readJson(path.join(rtcNodeDir, "package.json")).version;
const bridgeVersion = readJson(path.join(APP, "package.json")).version;

/** Replaces `from` by `to` in a file's text, failing the build when `from` is not there. */
function replaceOnce(text, from, to, file) {
  const found = typeof from === "string" ? text.includes(from) : from.test(text);
  if (!found) throw new Error(`${file} changed: ${from} not found, update build-executable.mjs`);
  return text.replace(from, to);
}

/** Counts one replacement; returns "" to prefix what it returns. */
function count(name) {
  replaced[name] += 1;
  return "";
}

/** Each replacement below, counted when it happens: each must happen exactly once. */
const replaced = { addon: 0, rig: 0, bridgeVersion: 0, rtcNodeVersion: 0 };

/** What differs inside the executable from running dist/ with node_modules beside it. */
const executablePlugin = {
  name: "livekit-bridge-executable",
  setup(build) {
    // rtc-ffi-bindings' loader requires the .node file from node_modules.
    build.onLoad({ filter: /[\\/]rtc-ffi-bindings[\\/]native\.js$/ }, () => ({
      contents:
        count("addon") + fs.readFileSync(path.join(HERE, "executable", "native-addon.cjs"), "utf8"),
      loader: "js",
      resolveDir: path.join(HERE, "executable"),
    }));
    // The development rig (embedded livekit-server) needs the repository's tool cache.
    build.onResolve({ filter: /^@mentra\/livekit-rig$/ }, () => ({
      path: count("rig") + path.join(HERE, "executable", "no-embedded-livekit.mjs"),
    }));
    // Versions read from package.json files at start, which are not on disk here.
    build.onLoad({ filter: /[\\/]apps[\\/]bridge[\\/]dist[\\/]version\.js$/ }, (args) => ({
      contents:
        count("bridgeVersion") +
        replaceOnce(
          fs.readFileSync(args.path, "utf8"),
          'readFileSync(new URL("../package.json", import.meta.url), "utf8")',
          JSON.stringify(JSON.stringify({ version: bridgeVersion })),
          args.path,
        ),
      loader: "js",
    }));
    build.onLoad({ filter: /[\\/]livekit-native-logs[\\/]dist[\\/]index\.js$/ }, (args) => ({
      contents:
        count("rtcNodeVersion") +
        replaceOnce(
          fs.readFileSync(args.path, "utf8"),
          /function rtcNodeVersion\(\) \{[\s\S]*?\n\}/,
          `function rtcNodeVersion() { return ${JSON.stringify(rtcNodeVersion)}; }`,
          args.path,
        ),
      loader: "js",
    }));
  },
};

fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(work, { recursive: true });
const bundle = path.join(work, "bridge.cjs");
const result = await esbuild.build({
  entryPoints: [path.join(HERE, "executable", "entry.mjs")],
  outfile: bundle,
  bundle: true,
  platform: "node",
  target: "node24",
  format: "cjs",
  // rtc-node logs at debug level to stdout unless NODE_ENV is "production" (as main.ts).
  banner: { js: 'process.env.NODE_ENV ??= "production";' },
  // What scripts/bundle.mjs defines for version.ts, where it does.
  define: { __BRIDGE_VERSION__: JSON.stringify(bridgeVersion) },
  plugins: [executablePlugin],
  logLevel: "silent",
  legalComments: "none",
});
for (const [name, times] of Object.entries(replaced)) {
  if (times !== 1) throw new Error(`replacement ${name} happened ${times} times, not once`);
}
// import.meta is empty in CommonJS: any use left would read files that are not there.
if (result.warnings.length > 0) {
  const text = await esbuild.formatMessages(result.warnings, { kind: "warning" });
  throw new Error(
    `esbuild warnings (each is a file the executable cannot read):\n${text.join("")}`,
  );
}

const seaConfig = {
  main: bundle,
  output: path.join(work, "sea.blob"),
  disableExperimentalSEAWarning: true,
  useCodeCache: true,
  // The Node flags every launch of the bridge uses (apps/bridge/node-flags.json).
  execArgv: JSON.parse(fs.readFileSync(new URL("../node-flags.json", import.meta.url), "utf8")),
  assets: { [ADDON_ASSET]: addonFile },
};
const nodeVersion = execFileSync(nodeBinary, ["--version"], { encoding: "utf8" }).trim();
// Node's release binary carries its symbol table and debug info (18 MB); `strip` (binutils)
// drops them and keeps the dynamic symbols the addon links against. Without binutils
// (e.g. the slim Docker image) the executable is just that much larger.
const strip = (() => {
  try {
    execFileSync("strip", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();
const stamp = createHash("sha256")
  .update(fs.readFileSync(bundle))
  .update(fs.readFileSync(addonFile))
  .update(fs.readFileSync(new URL(import.meta.url)))
  .update(`${nodeVersion}\n${fs.statSync(nodeBinary).size}\n${JSON.stringify(seaConfig)}`)
  .update(strip ? "stripped" : "not stripped")
  .digest("hex");
const stampFile = `${out}.stamp`;
if (
  fs.existsSync(out) &&
  fs.existsSync(stampFile) &&
  fs.readFileSync(stampFile, "utf8") === stamp
) {
  fs.rmSync(work, { recursive: true, force: true });
  log(`${out} is up to date (${elapsed()})`);
  process.exit(0);
}

log(
  `bundle ${(fs.statSync(bundle).size / 1e6).toFixed(1)} MB (${elapsed()}); SEA blob with ${nodeVersion}`,
);
fs.writeFileSync(path.join(work, "sea-config.json"), JSON.stringify(seaConfig, null, 2));
execFileSync(nodeBinary, ["--experimental-sea-config", path.join(work, "sea-config.json")], {
  stdio: ["ignore", "ignore", "inherit"],
});
const partial = path.join(work, "livekit-bridge");
fs.copyFileSync(nodeBinary, partial);
if (strip) execFileSync("strip", [partial]);
log(`injecting the blob into Node${strip ? ", stripped," : " (no strip found)"} (${elapsed()})`);
await inject(partial, "NODE_SEA_BLOB", fs.readFileSync(seaConfig.output), {
  sentinelFuse: SEA_FUSE,
});
fs.chmodSync(partial, 0o755);
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.renameSync(partial, out);
fs.writeFileSync(stampFile, stamp);
fs.rmSync(work, { recursive: true, force: true });
log(`${out}: ${(fs.statSync(out).size / 1e6).toFixed(1)} MB, built in ${elapsed()}`);
