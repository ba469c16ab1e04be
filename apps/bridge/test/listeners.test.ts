import { execFile, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import * as fs from "node:fs";
import * as http2 from "node:http2";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import type * as tls from "node:tls";
import { promisify } from "node:util";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { createBridgeClient } from "@mentra/bridge-client";
import { LiveKitBridge } from "@mentra/bridge-proto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startApp } from "./support/app.js";
import { runReadmeCommand } from "./support/tools.js";

describe("BRIDGE_UNIX_SOCKET", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bridge-sock-"));
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("serves the client package over the socket (gRPC on HTTP/2) and removes it on close", async () => {
    const socketPath = path.join(dir, "bridge.sock");
    const { app, url } = await startApp({ env: { BRIDGE_UNIX_SOCKET: socketPath } });
    cleanups.push(() => app.close());
    expect(fs.statSync(socketPath).isSocket()).toBe(true);
    expect(app.server.address?.socketPath).toBe(socketPath);

    const client = createBridgeClient({ baseUrl: "http://unused.invalid", socketPath });
    cleanups.push(() => client.close());
    const health = await client.health({ timeoutMs: 5_000 });
    expect(health.status).toBe("serving");
    expect(health.activeSessions).toBe(0);
    // The TCP port still serves too.
    expect((await fetch(`${url}/healthz`)).status).toBe(200);

    await client.close();
    await app.close();
    expect(fs.existsSync(socketPath)).toBe(false);
  });

  it("answers HTTP/1.1 on the socket as well (curl --unix-socket)", async () => {
    const socketPath = path.join(dir, "curl.sock");
    const { app } = await startApp({ env: { BRIDGE_UNIX_SOCKET: socketPath } });
    cleanups.push(() => app.close());
    // Asynchronously: the bridge under test runs in this very process.
    const { stdout } = await promisify(execFile)(
      "curl",
      ["-s", "--unix-socket", socketPath, "http://bridge/healthz"],
      { encoding: "utf8", timeout: 10_000 },
    );
    expect(stdout).toBe("ok\n");
  });

  it("replaces a stale socket file but refuses a live one", async () => {
    const socketPath = path.join(dir, "stale.sock");
    // A socket file whose server is gone, as a bridge killed with SIGKILL leaves it.
    const crashed = spawn(
      process.execPath,
      [
        "-e",
        `require("net").createServer().listen(${JSON.stringify(socketPath)}, () => console.log("up"))`,
      ],
      { stdio: ["ignore", "pipe", "ignore"] },
    );
    cleanups.push(() => {
      if (crashed.exitCode === null && crashed.signalCode === null) crashed.kill("SIGKILL");
    });
    await once(crashed.stdout, "data");
    crashed.kill("SIGKILL");
    await once(crashed, "exit");
    expect(fs.statSync(socketPath).isSocket()).toBe(true);

    const { app } = await startApp({ env: { BRIDGE_UNIX_SOCKET: socketPath } });
    cleanups.push(() => app.close());
    expect(app.server.address?.socketPath).toBe(socketPath);

    await expect(startApp({ env: { BRIDGE_UNIX_SOCKET: socketPath } })).rejects.toMatchObject({
      code: "EADDRINUSE",
    });
  });
});

describe("TLS (BRIDGE_TLS_CERT/KEY), h2 and http/1.1 by ALPN", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bridge-tls-"));
  const certFile = path.join(dir, "cert.pem");
  const keyFile = path.join(dir, "key.pem");
  let app: Awaited<ReturnType<typeof startApp>>["app"];
  let url: string;
  let ca: Buffer;

  beforeAll(async () => {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        keyFile,
        "-out",
        certFile,
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
      ],
      { stdio: "ignore", timeout: 20_000 },
    );
    ca = fs.readFileSync(certFile);
    ({ app, url } = await startApp({
      env: { BRIDGE_TLS_CERT: certFile, BRIDGE_TLS_KEY: keyFile },
    }));
  });
  afterAll(async () => {
    await app?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("reports an https URL", () => {
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it("negotiates h2 and serves gRPC", async () => {
    const session = http2.connect(url, { ca });
    const alpn = await new Promise<string | false | undefined>((resolve, reject) => {
      session.once("connect", () => resolve(session.alpnProtocol));
      session.once("error", reject);
    });
    session.destroy();
    expect(alpn).toBe("h2");
    const client = createClient(
      LiveKitBridge,
      createGrpcTransport({ baseUrl: url, nodeOptions: { ca } }),
    );
    expect((await client.healthCheck({})).status).toBe(1);
  });

  it("negotiates http/1.1 for clients that only speak it, and serves Connect and /healthz", async () => {
    const get = (options: https.RequestOptions & tls.ConnectionOptions) =>
      new Promise<{ alpn: string | false | null; body: string }>((resolve, reject) => {
        const req = https.get(`${url}/healthz`, { ca, ...options }, (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => {
            body += chunk;
          });
          res.on("end", () =>
            resolve({ alpn: (req.socket as tls.TLSSocket | null)?.alpnProtocol ?? null, body }),
          );
        });
        req.on("error", reject);
      });
    expect(await get({ ALPNProtocols: ["http/1.1"], agent: false })).toEqual({
      alpn: "http/1.1",
      body: "ok\n",
    });
    // A client that offers no ALPN at all gets HTTP/1.1 too.
    expect(await get({ agent: false })).toEqual({ alpn: false, body: "ok\n" });
    const client = createClient(
      LiveKitBridge,
      createConnectTransport({ baseUrl: url, httpVersion: "1.1", nodeOptions: { ca } }),
    );
    expect((await client.healthCheck({})).status).toBe(1);
  });

  it("works with grpcurl over TLS with reflection", async () => {
    const result = await runReadmeCommand(
      `grpcurl -cacert ${certFile} localhost:9090 grpc.health.v1.Health/Check`,
      url.replace("https://", ""),
    );
    expect(result.stderr).toBe("");
    expect(JSON.parse(result.stdout)).toEqual({ status: "SERVING" });
  });

  it("refuses cleartext on the TLS port", async () => {
    const response = await fetch(`${url.replace("https://", "http://")}/healthz`).then(
      () => "answered",
      () => "refused",
    );
    expect(response).toBe("refused");
  });
});
