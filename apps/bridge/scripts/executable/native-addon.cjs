// Replaces @livekit/rtc-ffi-bindings' native.js inside the executable. The platform
// package's rtc-node.node is embedded in the executable as a SEA asset; a native addon can
// only be loaded from a file, so it is written to a private folder (mkdtemp: mode 0700,
// under TMPDIR or /tmp), loaded with process.dlopen and removed at once: the loaded
// library stays mapped, so nothing is left on disk while the bridge runs. A bridge killed
// while writing it leaves a folder named with its pid; the next start removes the folders
// of processes that are gone.
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const sea = require("node:sea");

const ASSET = "rtc-node.node";
const PREFIX = "livekit-bridge-";
const LEFTOVER = /^livekit-bridge-(\d+)-[A-Za-z0-9]{6}$/;

/** Removes what bridges killed mid-write left in `base`: folders of pids no longer alive. */
function removeLeftovers(base) {
  let names;
  try {
    names = fs.readdirSync(base);
  } catch {
    return;
  }
  for (const name of names) {
    // What mkdtemp makes of `${PREFIX}${pid}-`: six random characters after it.
    const pid = Number(LEFTOVER.exec(name)?.[1]);
    if (!(pid > 0) || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
      continue; // alive (or not ours to signal): maybe loading its addon right now
    } catch (error) {
      if (error.code !== "ESRCH") continue;
    }
    try {
      fs.rmSync(path.join(base, name), { recursive: true, force: true });
    } catch {
      // Another user's folder: not ours to remove.
    }
  }
}

function loadEmbeddedAddon() {
  if (!sea.isSea()) {
    throw new Error("this bundle loads rtc-node's native addon from the executable's assets");
  }
  const base = os.tmpdir();
  removeLeftovers(base);
  const dir = fs.mkdtempSync(path.join(base, `${PREFIX}${process.pid}-`));
  try {
    const file = path.join(dir, ASSET);
    fs.writeFileSync(file, new Uint8Array(sea.getRawAsset(ASSET)), { mode: 0o700 });
    const addon = { exports: {} };
    process.dlopen(addon, file);
    return addon.exports;
  } catch (error) {
    throw new Error(
      `could not load rtc-node's native addon from ${dir} (set TMPDIR to a folder that ` +
        `allows executable mappings): ${error.message}`,
      { cause: error },
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// native.js exports the binding object itself.
module.exports = loadEmbeddedAddon();
