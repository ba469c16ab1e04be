import * as fs from "node:fs";
import * as net from "node:net";
import { dirname } from "node:path";

/**
 * Removes a Unix socket file left by a process that died, so listen() can bind it; a
 * socket something still answers on is left alone (listen() then fails EADDRINUSE).
 */
export async function removeStaleSocket(path: string): Promise<void> {
  fs.mkdirSync(dirname(path), { recursive: true });
  try {
    const stats = fs.lstatSync(path, { throwIfNoEntry: false });
    if (stats === undefined || !stats.isSocket()) return;
    const alive = await new Promise<boolean>((resolve) => {
      const probe = net.connect(path);
      probe.once("connect", () => {
        probe.destroy();
        resolve(true);
      });
      probe.once("error", () => resolve(false));
    });
    if (!alive) fs.rmSync(path, { force: true });
  } finally {
    // Node's module loaders resolve symlinks with a realpath that stops early when the
    // process's last synchronous stat saw a socket (they read a shared stat buffer), and
    // lstat and rm just saw one: rtc-node, loaded after this, was then found through
    // pnpm's symlink, where its dependencies are not. A stat of the folder overwrites it.
    fs.statSync(dirname(path));
  }
}
