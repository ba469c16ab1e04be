// Replaces @livekit/rtc-ffi-bindings' native.js inside the executable. The platform
// package's rtc-node.node is embedded in the executable as a SEA asset; a native addon can
// only be loaded from a file, so it is written to a private folder (mkdtemp: mode 0700,
// under TMPDIR or /tmp), loaded with process.dlopen and removed at once: the loaded
// library stays mapped, so nothing is left on disk while the bridge runs.
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const sea = require("node:sea");

const ASSET = "rtc-node.node";

function loadEmbeddedAddon() {
  if (!sea.isSea()) {
    throw new Error("this bundle loads rtc-node's native addon from the executable's assets");
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "livekit-bridge-"));
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
