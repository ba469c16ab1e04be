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
    expect(dockerfile.match(/^FROM /gm)).toHaveLength(4);
    // The last stage is what a plain `docker build` makes.
    expect(dockerfile.slice(dockerfile.lastIndexOf("\nFROM "))).toMatch(
      /^\nFROM node:\S+ AS runtime\n/,
    );
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n.*\/healthz/m);
    expect(dockerfile).toContain('CMD ["node", "--max-semi-space-size=1", "dist/main.js"]');
  });
});

describe("Dockerfile, the cloud drop-in (--target cloud)", () => {
  const dockerfile = read("Dockerfile");
  /** The lines of one stage, from its FROM to the next. */
  const stage = (name: string) => {
    const start = dockerfile.search(new RegExp(`^FROM .* AS ${name}$`, "m"));
    if (start < 0) throw new Error(`no stage ${name}`);
    const next = dockerfile.indexOf("\nFROM ", start + 1);
    return dockerfile.slice(start, next < 0 ? undefined : next);
  };
  const buildScript = read("scripts/build-binary.sh");
  // Where npm run build:binary puts the executable, relative to the repository root.
  const defaultOut = /\$ROOT\/(apps\/bridge\/dist-exe\/livekit-bridge)\}/.exec(buildScript)?.[1];

  it("builds the executable as npm run build:binary does, on the pinned Node 24", () => {
    expect(defaultOut).toBe("apps/bridge/dist-exe/livekit-bridge");
    expect(buildScript).toContain("node apps/bridge/scripts/build-executable.mjs --node");
    const executable = stage("executable");
    expect(executable).toMatch(/^FROM build AS executable$/m);
    expect(executable).toContain(
      "node apps/bridge/scripts/build-executable.mjs --node /usr/local/bin/node",
    );
    expect(executable).toContain(`--out ${defaultOut}`);
    // It runs once in the build: the addon loads, the settings help prints.
    expect(executable).toContain(`./${defaultOut} --help`);
    // The build stage is the pinned Node 24 image, so /usr/local/bin/node is that Node.
    expect(stage("build")).toMatch(/^FROM node:\$\{NODE_VERSION\}-slim AS build$/m);
    // The build context keeps a locally built executable out.
    expect(read(".dockerignore")).toMatch(/^\*\*\/dist-exe$/m);
  });

  it("puts it where the cloud's start.sh runs ./livekit-bridge, on Bun's Debian image", () => {
    const tools = JSON.parse(read("packages/client/package.json")) as {
      devDependencies: Record<string, string>;
    };
    // The Bun the client's tests run under is the one the cloud stage names.
    expect(dockerfile).toContain(`ARG BUN_VERSION=${tools.devDependencies.bun}`);
    const cloud = stage("cloud");
    expect(cloud).toMatch(/^FROM oven\/bun:\$\{BUN_VERSION\}-debian AS cloud$/m);
    expect(cloud).toMatch(/^WORKDIR \/app$/m);
    expect(cloud).toContain(`COPY --from=executable /src/${defaultOut} ./livekit-bridge`);
    expect(cloud).toContain("ENV LIVEKIT_GRPC_SOCKET=/tmp/livekit-bridge.sock");
    expect(cloud).toContain('CMD ["./livekit-bridge"]');
    // Nothing in it needs Node: no node command, no node_modules copied.
    expect(cloud).not.toMatch(/\bnode\b(?!_)|node_modules/);
  });
});
