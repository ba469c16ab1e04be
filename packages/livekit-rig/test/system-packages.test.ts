import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

// scripts/system-packages.sh decides whether `npm test` installs the rig's system tools
// itself (root on Debian) or stops with the command to run. Run here with a PATH of fake
// commands: nothing is installed and apt-get (a stub that leaves a mark) never runs.

const SCRIPT = fileURLToPath(new URL("../../../scripts/system-packages.sh", import.meta.url));
const ALL_TOOLS = [
  "openssl",
  "curl",
  "ip",
  "setpriv",
  "sysctl",
  "nft",
  "iptables-legacy",
  "redis-server",
];

const root = mkdtempSync(join(tmpdir(), "system-packages-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let machines = 0;

interface FakeMachine {
  readonly tools: readonly string[];
  readonly uid: number;
  /** Whether apt-get exists; "records" makes it log its arguments and succeed. */
  readonly aptGet: boolean | "records";
}

/** A folder of executables standing in for a machine's PATH; returns it and apt-get's mark. */
function fakeMachine(machine: FakeMachine): { path: string; aptMark: string } {
  const bin = join(root, `machine-${machines++}`);
  const aptMark = join(bin, "apt-get-ran");
  const write = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  mkdirSync(bin, { recursive: true });
  for (const tool of machine.tools) write(tool, "exit 0");
  write("id", `echo ${machine.uid}`);
  if (machine.aptGet === "records") {
    write("apt-get", `echo "$*" >> ${JSON.stringify(aptMark)}; exit 0`);
  } else if (machine.aptGet) {
    write("apt-get", `touch ${JSON.stringify(aptMark)}; exit 1`);
  }
  return { path: bin, aptMark };
}

function run(machine: FakeMachine, call: string, env: NodeJS.ProcessEnv = {}) {
  const { path, aptMark } = fakeMachine(machine);
  const result = spawnSync(
    "/bin/bash",
    ["-c", `log() { echo "$*" >&2; }; source ${JSON.stringify(SCRIPT)}; ${call}`],
    { env: { PATH: path, ...env }, encoding: "utf8", timeout: 10_000 },
  );
  const aptRan = existsSync(aptMark);
  return { ...result, aptRan, aptCalls: aptRan ? readFileSync(aptMark, "utf8") : "" };
}

const plan = (machine: FakeMachine, env: NodeJS.ProcessEnv = {}) =>
  run(machine, "system_packages_plan", env).stdout.trim();

describe("npm test's system packages (scripts/system-packages.sh)", () => {
  it("does nothing when every tool is there", () => {
    expect(plan({ tools: ALL_TOOLS, uid: 0, aptGet: true })).toBe("ok");
    expect(plan({ tools: ALL_TOOLS, uid: 1000, aptGet: false })).toBe("ok");
  });

  it("installs the missing ones as root on Debian", () => {
    const tools = ALL_TOOLS.filter(
      (tool) => !["nft", "iptables-legacy", "redis-server"].includes(tool),
    );
    expect(plan({ tools, uid: 0, aptGet: true })).toBe("install nftables iptables redis-server");
    expect(plan({ tools: [], uid: 0, aptGet: true })).toBe(
      "install openssl curl iproute2 util-linux procps nftables iptables redis-server",
    );
  });

  it("without root, stops with the exact apt-get command", () => {
    const tools = ALL_TOOLS.filter((tool) => tool !== "redis-server");
    expect(plan({ tools, uid: 1000, aptGet: true })).toBe(
      "stop sudo apt-get update && sudo apt-get install -y redis-server",
    );
  });

  it("without apt-get, names the Debian packages", () => {
    expect(plan({ tools: ["openssl", "curl"], uid: 0, aptGet: false })).toMatch(
      /^stop install the Debian packages iproute2 util-linux procps nftables iptables redis-server /,
    );
  });

  it("needs only openssl and curl when the e2e suites are skipped", () => {
    const machine = { tools: ["openssl", "curl"], uid: 1000, aptGet: true };
    expect(plan(machine, { MENTRA_SKIP_E2E: "1" })).toBe("ok");
    expect(plan({ ...machine, tools: ["curl"] }, { MENTRA_SKIP_E2E: "1" })).toBe(
      "stop sudo apt-get update && sudo apt-get install -y openssl",
    );
  });

  it("ensure_system_packages stops at once, printing the command, and never runs apt-get", () => {
    const result = run(
      { tools: ALL_TOOLS.filter((tool) => tool !== "nft"), uid: 1000, aptGet: true },
      "ensure_system_packages; echo went-on",
    );
    expect(result.status).toBe(1);
    expect(result.stdout).not.toContain("went-on");
    expect(result.stderr).toContain("  sudo apt-get update && sudo apt-get install -y nftables\n");
    expect(result.aptRan).toBe(false);
  });

  it("ensure_system_packages does nothing when all is there", () => {
    const result = run(
      { tools: ALL_TOOLS, uid: 0, aptGet: true },
      "ensure_system_packages; echo went-on",
    );
    expect(result.status).toBe(0);
    expect(result.stdout).toBe("went-on\n");
    expect(result.aptRan).toBe(false);
  });

  it("ensure_system_packages, as root on Debian, runs apt-get update and install of exactly what is missing", () => {
    const result = run(
      {
        tools: ALL_TOOLS.filter((tool) => tool !== "redis-server" && tool !== "curl"),
        uid: 0,
        aptGet: "records",
      },
      "ensure_system_packages; echo went-on",
    );
    expect(result.status).toBe(0);
    expect(result.stdout).toBe("went-on\n");
    expect(result.aptCalls).toBe("update -qq\ninstall -y -qq curl redis-server\n");
  });
});
