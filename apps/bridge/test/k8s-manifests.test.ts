import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { REPO_ROOT } from "./support/tools.js";

// No cluster runs here: tools/k8s-check decodes every document into its Kubernetes API
// type (unknown fields refused) and checks the objects against each other and the bridge.

const MANIFEST = path.join(REPO_ROOT, "deploy/k8s/bridge.yaml");

function k8sCheck(file: string): Promise<{ code: number; output: string }> {
  const binary = process.env.K8S_CHECK_BIN;
  if (binary === undefined || binary === "") {
    throw new Error(
      "K8S_CHECK_BIN is not set: run the tests through `npm test` (scripts/lib.sh sets it; scripts/bootstrap.sh builds it)",
    );
  }
  return new Promise((resolve) => {
    execFile(binary, [file], (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

describe("deploy/k8s (offline)", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "k8s-check-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const variant = (name: string, edit: (text: string) => string) => {
    const file = path.join(dir, name);
    writeFileSync(file, edit(readFileSync(MANIFEST, "utf8")));
    return file;
  };

  it("passes: every field known, probes, grace period, headless Service, PDB, autoscaler", async () => {
    const { code, output } = await k8sCheck(MANIFEST);
    expect(output).toContain(
      "k8s-check: ok (1 ConfigMap, 1 Deployment, 1 Service, 1 PodDisruptionBudget, 1 HorizontalPodAutoscaler)",
    );
    expect(code).toBe(0);
  });

  it("gives the bridge settings that pass its own validation", () => {
    const text = readFileSync(MANIFEST, "utf8");
    const data = text.slice(text.indexOf("data:"), text.indexOf("---"));
    const env: Record<string, string> = {};
    for (const match of data.matchAll(/^ {2}([A-Z0-9_]+): "([^"]*)"$/gm)) {
      if (match[1] !== undefined && match[2] !== undefined) env[match[1]] = match[2];
    }
    expect(Object.keys(env)).toContain("LIVEKIT_URL");
    expect(() => loadConfig(env)).not.toThrow();
    // The bridge recycles itself before the container's memory limit would kill it.
    const limitMi = Number(/limits: \{ memory: (\d+)Mi \}/.exec(text)?.[1]);
    expect(loadConfig(env).recycleRssMb).toBeGreaterThan(0);
    expect(loadConfig(env).recycleRssMb).toBeLessThan(limitMi * 1.048576 * 0.9);
  });

  it("refuses a misspelt field, a grace period shorter than the drain, and a missing probe", async () => {
    const typo = await k8sCheck(
      variant("typo.yaml", (t) => t.replace("replicas: 3", "replica: 3")),
    );
    expect(typo.code).toBe(1);
    expect(typo.output).toContain(
      `document 2: error unmarshaling JSON: while decoding JSON: json: unknown field "replica"`,
    );
    const grace = await k8sCheck(
      variant("grace.yaml", (t) =>
        t.replace("terminationGracePeriodSeconds: 30", "terminationGracePeriodSeconds: 10"),
      ),
    );
    expect(grace.code).toBe(1);
    expect(grace.output).toContain(
      "terminationGracePeriodSeconds must cover PLAYBACK_DRAIN_MS + SHUTDOWN_TIMEOUT_MS (20000 ms)",
    );
    const probe = await k8sCheck(
      variant("probe.yaml", (t) => t.replace("path: /readyz", "path: /ready")),
    );
    expect(probe.code).toBe(1);
    expect(probe.output).toContain("readinessProbe: path /ready, want /readyz");
  });
});
