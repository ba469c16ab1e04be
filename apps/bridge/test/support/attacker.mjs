// A hostile caller, as its own process so its work does not slow the process measuring the
// bridge. Loopback only, bounded in count and time. Prints one JSON line when done.
//
//   node attacker.mjs preface <port> <connections> <durationMs> <reopen>
//     opens <connections> that send the HTTP/2 preface and nothing else and holds them for
//     <durationMs>; with <reopen> 1 it opens a new one for every one the bridge closes (at
//     most 10 × <connections> in all).
//   node attacker.mjs streams <port> <connections> <streamsPerConnection> <durationMs>
//     opens <connections> HTTP/2 connections with <streamsPerConnection> StreamAudio
//     streams each that send their headers and never a message, counts the answers, and
//     ends once every stream is answered or refused, or after <durationMs>.
//   node attacker.mjs joins <port> <count> <prefix>
//     sends <count> JoinRooms at once on one HTTP/2 connection (a cloud's burst) for users
//     <prefix>-<i> in rooms <prefix>-room-<i>, and prints each user's outcome ("joined",
//     "failed" or the Connect code's name) once all are answered.
//
// preface and streams end early on SIGTERM, closing everything.
import * as http2 from "node:http2";
import * as net from "node:net";
import { openSilentStreamAudio, PREFACE } from "./raw-h2.mjs";

const [mode, portText, ...rest] = process.argv.slice(2);
const port = Number(portText);
const started = performance.now();
let stopping = false;
const finishers = [];
process.on("SIGTERM", () => {
  stopping = true;
  for (const finish of finishers) finish();
});

/** Closes what `closeAll` closes, prints `counts` with the run time, and exits. */
function finish(counts, closeAll) {
  stopping = true;
  closeAll();
  console.log(JSON.stringify({ ...counts, ms: Math.round(performance.now() - started) }));
  process.exit(0);
}

function preface(connections, durationMs, reopen) {
  const maxOpens = reopen ? 10 * connections : connections;
  const open = new Set();
  const counts = { opened: 0, closedByBridge: 0, errors: 0, peakOpen: 0 };
  const openOne = () => {
    if (stopping || counts.opened >= maxOpens || performance.now() - started > durationMs) return;
    counts.opened += 1;
    const socket = net.connect(port, "127.0.0.1", () => socket.write(PREFACE));
    open.add(socket);
    counts.peakOpen = Math.max(counts.peakOpen, open.size);
    socket.resume();
    socket.on("error", () => {
      counts.errors += 1;
    });
    socket.on("close", () => {
      open.delete(socket);
      if (!stopping) {
        counts.closedByBridge += 1;
        if (reopen) setImmediate(openOne);
      }
    });
  };
  // Open in batches, so the kernel's accept queue is not the only limit seen.
  let launched = 0;
  const batch = () => {
    for (let i = 0; i < 200 && launched < connections; i++, launched++) openOne();
    if (launched < connections) setTimeout(batch, 5);
  };
  batch();
  const done = () =>
    finish(counts, () => {
      for (const socket of open) socket.destroy();
    });
  finishers.push(done);
  setTimeout(done, durationMs);
}

function streams(connections, perConnection, durationMs) {
  const counts = { streams: 0, answered: {}, reset: 0, errors: 0, firstAnswerMs: {} };
  const sessions = [];
  let remaining = connections * perConnection;
  for (let c = 0; c < connections; c++) {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", () => {
      counts.errors += 1;
    });
    sessions.push(session);
    for (let s = 0; s < perConnection; s++) {
      counts.streams += 1;
      const stream = openSilentStreamAudio(session);
      let settled = false;
      const settle = () => {
        if (settled) return;
        settled = true;
        remaining -= 1;
        if (remaining === 0) setImmediate(() => done());
      };
      const answer = (status) => {
        counts.answered[status] = (counts.answered[status] ?? 0) + 1;
        counts.firstAnswerMs[status] ??= Math.round(performance.now() - started);
        settle();
      };
      stream.on("response", (headers) => {
        const status = headers["grpc-status"];
        if (status !== undefined) answer(String(status));
      });
      stream.on("trailers", (trailers) => answer(String(trailers["grpc-status"])));
      stream.on("close", () => {
        if (stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM) counts.reset += 1;
        settle();
      });
      stream.resume();
    }
  }
  let finished = false;
  const done = () => {
    if (finished) return;
    finished = true;
    finish(counts, () => {
      for (const session of sessions) session.destroy();
    });
  };
  finishers.push(done);
  setTimeout(done, durationMs);
}

async function joins(count, prefix) {
  // Loaded only here: the other modes speak raw HTTP/2.
  const { Code, ConnectError, createClient } = await import("@connectrpc/connect");
  const { createGrpcTransport } = await import("@connectrpc/connect-node");
  const { LiveKitBridge } = await import("@mentra/bridge-proto");
  const client = createClient(
    LiveKitBridge,
    createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }),
  );
  const outcomes = {};
  await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const userId = `${prefix}-${i}`;
      try {
        const answer = await client.joinRoom({ userId, roomName: `${prefix}-room-${i}` });
        outcomes[userId] = answer.success ? "joined" : "failed";
      } catch (error) {
        outcomes[userId] = Code[ConnectError.from(error).code] ?? "error";
      }
    }),
  );
  finish({ outcomes }, () => {});
}

if (!(port > 0)) throw new Error("usage: attacker.mjs preface|streams|joins <port> …");
const numbers = rest.map(Number);
if (mode === "joins") void joins(numbers[0] ?? 0, rest[1] ?? "burst");
else if (mode === "preface") preface(numbers[0] ?? 0, numbers[1] ?? 0, numbers[2] ?? 0);
else if (mode === "streams") streams(numbers[0] ?? 0, numbers[1] ?? 0, numbers[2] ?? 0);
else throw new Error(`unknown mode ${mode}`);
