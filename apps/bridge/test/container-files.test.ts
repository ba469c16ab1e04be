import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { REPO_ROOT } from "./support/tools.js";

// No Docker engine runs here, so `docker compose config` and `docker build` cannot; these
// checks hold the container files to the facts the bridge depends on.

const read = (name: string) => readFileSync(path.join(REPO_ROOT, name), "utf8");

/** The `environment:` map of one compose service, as plain strings. */
function serviceEnvironment(compose: string, service: string): Record<string, string> {
  const start = compose.indexOf(`\n  ${service}:\n`);
  if (start < 0) throw new Error(`no service ${service}`);
  const rest = compose.slice(start + service.length + 5);
  const block = /\n {4}environment:\n((?: {6}.*\n)+)/.exec(rest);
  if (block?.[1] === undefined) throw new Error(`service ${service} has no environment`);
  const env: Record<string, string> = {};
  for (const line of block[1].trimEnd().split("\n")) {
    const match = /^ {6}([A-Z0-9_]+): "?([^"]*)"?$/.exec(line);
    if (match?.[1] === undefined || match[2] === undefined) throw new Error(`odd line ${line}`);
    env[match[1]] = match[2];
  }
  return env;
}

describe("docker-compose.dev.yml", () => {
  const compose = read("docker-compose.dev.yml");

  it("gives the bridge settings that pass its own validation", () => {
    const env = serviceEnvironment(compose, "livekit-bridge");
    const config = loadConfig(env);
    expect(config).toMatchObject({
      port: 9090,
      host: "0.0.0.0",
      livekitUrl: "ws://livekit:7880",
      livekitApiKey: "devkey",
    });
  });

  it("names the service and port the cloud uses (livekit-bridge:9090)", () => {
    expect(compose).toContain("LIVEKIT_GRPC_BRIDGE_URL=livekit-bridge:9090");
    expect(compose).toMatch(/\n {2}livekit-bridge:\n/);
    expect(compose).toContain('- "9090:9090"');
  });

  it("runs the livekit-server version the tests run", () => {
    const tools = JSON.parse(read("tools.json")) as Record<string, string>;
    expect(compose).toContain(`image: livekit/livekit-server:${tools["livekit-server"]}`);
  });
});

describe("Dockerfile", () => {
  const dockerfile = read("Dockerfile");

  it("builds and runs on the Node 24 the smoke tests under, as a non-root user", () => {
    const tools = JSON.parse(read("tools.json")) as Record<string, string>;
    expect(dockerfile).toContain(`ARG NODE_VERSION=${tools.node24}`);
    expect(dockerfile).toContain(`ARG PNPM_VERSION=${tools.pnpm}`);
    expect(dockerfile.match(/^FROM /gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n.*\/healthz/m);
    expect(dockerfile).toContain('CMD ["node", "dist/main.js"]');
  });
});
