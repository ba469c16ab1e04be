import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { type ServerProcess, serverCommand, startServerProcess } from "./server-process.js";

/** A reply from Redis: bulk strings decoded as UTF-8; an error reply rejects instead. */
export type RedisReply = string | number | null | RedisReply[];

/** Where a Redis listens and the password it wants. */
export interface RedisTarget {
  host: string;
  port: number;
  password: string;
}

/** A redis-server the rig started: what livekit-server's `redis:` config needs, and a client. */
export interface RigRedis extends RedisTarget {
  /** host:port, as livekit-server's `redis.address` takes it. */
  address: string;
  /** Runs one command (AUTH first) on a fresh connection, e.g. `command("HLEN", "nodes")`. */
  command(...args: string[]): Promise<RedisReply>;
}

const COMMAND_TIMEOUT_MS = 2000;

function encodeCommand(args: readonly string[]): Buffer {
  const parts = [`*${args.length}\r\n`];
  for (const arg of args) parts.push(`$${Buffer.byteLength(arg)}\r\n${arg}\r\n`);
  return Buffer.from(parts.join(""));
}

type Parsed = { value: RedisReply | Error; next: number } | undefined;

/** Parses one RESP2 reply at `at`, or undefined when `buf` does not hold all of it yet. */
function parseReply(buf: Buffer, at: number): Parsed {
  const lineEnd = buf.indexOf("\r\n", at);
  if (lineEnd < 0) return undefined;
  const line = buf.toString("utf8", at + 1, lineEnd);
  const next = lineEnd + 2;
  switch (String.fromCharCode(buf[at] ?? 0)) {
    case "+":
      return { value: line, next };
    case "-":
      return { value: new Error(`redis: ${line}`), next };
    case ":":
      return { value: Number(line), next };
    case "$": {
      const length = Number(line);
      if (length < 0) return { value: null, next };
      if (buf.length < next + length + 2) return undefined;
      return { value: buf.toString("utf8", next, next + length), next: next + length + 2 };
    }
    case "*": {
      const count = Number(line);
      if (count < 0) return { value: null, next };
      const items: RedisReply[] = [];
      let cursor = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, cursor);
        if (!item) return undefined;
        if (item.value instanceof Error) return { value: item.value, next: item.next };
        items.push(item.value);
        cursor = item.next;
      }
      return { value: items, next: cursor };
    }
    default:
      return { value: new Error(`redis: unexpected reply ${JSON.stringify(line)}`), next };
  }
}

/**
 * Sends AUTH and then `args` over a fresh connection and resolves with the reply
 * to `args`; rejects on an error reply, a closed connection or after `timeoutMs`.
 */
export function redisCommand(
  target: RedisTarget,
  args: readonly string[],
  timeoutMs = COMMAND_TIMEOUT_MS,
): Promise<RedisReply> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: target.host, port: target.port });
    let buffered = Buffer.alloc(0);
    const replies: RedisReply[] = [];
    const finish = (err: Error | undefined, value?: RedisReply) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(value ?? null);
    };
    const timer = setTimeout(
      () => finish(new Error(`redis ${args[0]}: no reply within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on("error", (err) => finish(err));
    socket.on("close", () => finish(new Error(`redis ${args[0]}: connection closed`)));
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        const parsed = parseReply(buffered, 0);
        if (!parsed) return;
        buffered = buffered.subarray(parsed.next);
        if (parsed.value instanceof Error) return finish(parsed.value);
        replies.push(parsed.value);
        if (replies.length === 2) return finish(undefined, replies[1]);
      }
    });
    socket.write(
      Buffer.concat([encodeCommand(["AUTH", target.password]), encodeCommand([...args])]),
    );
  });
}

/** Where and how {@link startRedis} runs redis-server. */
export interface StartRedisOptions {
  /** The namespace to run in; undefined runs it here. */
  netns: string | undefined;
  /** The one address it binds (inside the namespace). */
  host: string;
  port: number;
  /** A private folder for its config file (and working directory; nothing is written there). */
  dir: string;
  startTimeoutMs: number;
  logPrefix: string | undefined;
}

/**
 * Starts redis-server bound to `host` only, with a random password and no
 * persistence (`save ""`, `appendonly no`), and waits until it answers PING.
 * The settings go in a config file rather than on the command line, so the
 * password does not show in `ps`.
 */
export async function startRedis(
  options: StartRedisOptions,
): Promise<{ redis: RigRedis; process: ServerProcess }> {
  const target: RedisTarget = {
    host: options.host,
    port: options.port,
    password: randomBytes(18).toString("base64url"),
  };
  const configPath = join(options.dir, "redis.conf");
  await writeFile(
    configPath,
    [
      `bind ${target.host}`,
      `port ${target.port}`,
      "protected-mode yes",
      `requirepass ${target.password}`,
      'save ""',
      "appendonly no",
      `dir ${options.dir}`,
      "daemonize no",
      "supervised no",
      'logfile ""',
      "loglevel warning",
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  const { command, args } = serverCommand(options.netns, "redis-server", [configPath]);
  const process = await startServerProcess({
    name: "redis-server",
    command,
    args,
    probe: async () => (await redisCommand(target, ["PING"], 1000)) === "PONG",
    startTimeoutMs: options.startTimeoutMs,
    logPrefix: options.logPrefix,
  });
  return {
    process,
    redis: {
      ...target,
      address: `${target.host}:${target.port}`,
      command: (...args) => redisCommand(target, args),
    },
  };
}
