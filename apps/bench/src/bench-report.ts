import type { LadderResult, StepResult } from "./bench.js";
import type { ChirpPath } from "./chirp-probe.js";
import type { MachineInfo } from "./machine.js";
import { machineLabel } from "./machine.js";
import type { PitchReading } from "./pitch.js";
import type { PlotPanel } from "./plot.js";
import { type InsideLatency, mib, round } from "./stats.js";
import { type TargetCheck, targetsTable } from "./targets.js";

/** Everything `npm run bench` writes to bench.json. */
export interface BenchReport {
  readonly kind: "bench";
  readonly machine: MachineInfo;
  readonly config: {
    readonly ladder: readonly number[];
    readonly stepSeconds: number;
    readonly warmupSeconds: number;
    readonly mp3Every: number;
    readonly directions: string;
    /** The connection modes the ladder ran with, in order. */
    readonly connections?: readonly string[];
  };
  readonly result: LadderResult;
  readonly targets: TargetCheck[];
  readonly notes: string[];
}

const DIRECTIONS: Record<string, string> = {
  both: "Every user's glasses send 20 ms PCM data packets (16 kHz) as the phone does (a sequence byte first, on the lossy data channel) and its cloud session streams 20 ms TTS chunks back (24 kHz, track 2) in utterances of 2 s with 0.5 s pauses, both in real time",
  "room-to-cloud":
    "Glasses → cloud only: 20 ms PCM data packets (16 kHz, the phone's format) in real time, no TTS",
  "cloud-to-room":
    "Cloud → glasses only: 20 ms TTS chunks (24 kHz, track 2) in utterances of 2 s with 0.5 s pauses, in real time, no device packets",
};

const trio = (p: { p50: number; p95: number; p99: number }) => `${p.p50} / ${p.p95} / ${p.p99}`;

/** The p99 ≤ 10 ms target for one direction, judged on the worst step that timed anything. */
function insideLatencyTarget(
  direction: string,
  perStep: readonly InsideLatency[],
  note: string,
): TargetCheck {
  const timed = perStep.some((latency) => latency.count > 0);
  const worst = Math.max(0, ...perStep.map((latency) => latency.p99));
  return {
    target: `bridge-added latency p99 ≤ 10 ms, ${direction}`,
    measured: timed ? `worst p99 ${worst} ms` : "-",
    met: timed ? worst <= 10 : null,
    note,
  };
}

/** Audio a step dropped anywhere: in the bridge (queue full, standing delay) and the client. */
const droppedMs = (s: StepResult) =>
  s.drops.bridgeCloudDroppedMs +
  s.drops.bridgeCloudDelayDroppedMs +
  s.drops.clientReceiveDroppedMs +
  s.drops.clientSendDroppedMs;

/** Judges a ladder against the issue's targets. */
export function judgeLadder(result: LadderResult): TargetCheck[] {
  const { steps, perSession } = result;
  const last = steps.at(-1);
  const top = last?.users ?? 0;
  const multi = steps.length >= 2;
  const gaps = steps.reduce((n, s) => n + s.packets.gaps + s.packets.duplicates, 0);
  const drops = steps.reduce((n, s) => n + droppedMs(s), 0);
  const worstPerUser = Math.max(0, ...steps.map((s) => s.bridge.cpuPctPerUser));
  return [
    {
      target: "≤ 3 MB RSS per added session",
      measured: multi ? `${perSession.rssMB} MB/session (RSS−heap ${perSession.nativeMB})` : "-",
      met: multi ? perSession.rssMB <= 3 : null,
      note: multi ? "least-squares slope of RSS over the ladder" : "needs two or more steps",
    },
    {
      target: "≤ 5% of one core per active session",
      measured: multi
        ? `${perSession.cpuPctOfCore}%/session slope; worst ${worstPerUser}%/user`
        : `${worstPerUser}%/user`,
      met: multi ? perSession.cpuPctOfCore <= 5 && worstPerUser <= 5 : worstPerUser <= 5,
      note: "real-time audio both ways; bridge process only (/proc utime+stime)",
    },
    insideLatencyTarget(
      "room→cloud",
      steps.map((s) => s.latency.insideToCloudMs),
      "inside the bridge: rtc-node frame event (or data packet) to the stream taking the chunk (bridge_audio_latency_seconds)",
    ),
    insideLatencyTarget(
      "cloud→room",
      steps.map((s) => s.latency.insideToRoomMs),
      "inside the bridge: the chunk's arrival to its 20 ms frame leaving the AudioSource queue (bridge_audio_latency_seconds)",
    ),
    {
      target: "zero drops and gaps up to 50 users",
      measured: `${gaps} gaps+duplicates, ${drops} ms dropped, up to ${top} users`,
      met:
        steps.length === 0 ? null : gaps === 0 && drops === 0 ? (top >= 50 ? true : null) : false,
      note: top >= 50 ? "" : `the ladder stopped at ${top} users`,
    },
  ];
}

const pitchCell = (p: PitchReading | undefined) =>
  p !== undefined && p.utterances > 0 ? `${p.lowestHz}–${p.highestHz}` : "-";

function stepRow(s: StepResult): string {
  const b = s.bridge;
  const p = s.packets;
  const drops = droppedMs(s);
  const chirp = s.latency.chirp;
  const added = (path: ChirpPath | undefined) =>
    path === undefined
      ? "-"
      : path.found
        ? `${path.addedP50Ms} (${path.bridgedMs.p50} − ${path.directMs.p50})`
        : `not found (peak ${path.peaks.bridged.toFixed(2)})`;
  const users = `${s.users} (${s.connections === "shared" ? "1 conn" : "conn/user"})`;
  return `| ${users} | ${b.rssMB} | ${b.nativeMB} | ${b.activeHandles} | ${b.cpuPctOfCore} | ${b.cpuPctPerUser} | ${b.loopDelayP99Ms} | ${trio(s.latency.insideToCloudMs)} | ${trio(s.latency.insideToRoomMs)} | ${added(chirp?.roomToCloud)} | ${added(chirp?.cloudToRoom)} | ${trio(s.latency.livekitPathMs)} | ${trio(s.latency.bridgeAddedMs)} | ${p.received}/${p.sent} | ${p.gaps}/${p.duplicates} | ${drops} (delay ${s.drops.bridgeCloudDelayDroppedMs}) | ${s.underruns.count} (${s.underruns.ms} ms; ${s.underruns.lateDroppedMs}) | ${pitchCell(s.heard)} (${pitchCell(s.heardDirect)}) | ${s.playback.completed} | ${s.load.machineCpuPct} | ${s.load.benchCpuPctOfCore} / ${s.load.livekitCpuPctOfCore} / ${s.load.otherCpuPctOfCore} |`;
}

/** The Markdown of a bench report: the steps, the targets, the notes. */
export function benchMarkdown(report: BenchReport): string {
  const r = report.result;
  const c = report.config;
  const after = r.afterLeave;
  return [
    `### Bench: ${machineLabel(report.machine)}`,
    "",
    `Steps of ${c.stepSeconds} s (after ${c.warmupSeconds} s warm-up). ${DIRECTIONS[c.directions] ?? c.directions}; ${c.mp3Every > 0 ? `every ${c.mp3Every}th user (the 1st, ${c.mp3Every + 1}th, …) also loops a 3 s MP3 through PlayAudio (track 1)` : "no MP3 playback"}. Latency in ms (p50 / p95 / p99): "inside" is the bridge's own histogram (room→cloud: frame event to the stream taking the chunk; cloud→room: write to leaving the AudioSource queue); "LiveKit path" (device send → bridge receipt) and "to client" (bridge receipt → cloud client, across gRPC on the same machine) are per room→cloud packet. "Chirp added" is end to end by a 1 s chirp, right after the window: p50 through the bridge minus p50 participant to participant (bridged − direct); room→cloud ends at the cloud client, cloud→room starts at session.send.`,
    "",
    "| users | RSS MB | RSS−heap MB | handles | bridge CPU % core | % per user | loop p99 ms | inside room→cloud | inside cloud→room | chirp added room→cloud | chirp added cloud→room | LiveKit path | to client | packets recv/sent | gaps/dup | dropped ms (standing delay) | cloud→room underruns (ms; late ms dropped) | 300 Hz TTS heard (from a peer) Hz | MP3s played | machine CPU % | CPU % core: load gen / LiveKit / other |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...r.steps.map(stepRow),
    "",
    `Idle bridge before: RSS ${round(mib(r.baseline.rssBytes))} MB, ${r.baseline.activeHandles} handles.` +
      (after
        ? ` After everyone left: RSS ${round(mib(after.rssBytes))} MB, RSS−heap ${round(mib(after.nativeBytes))} MB, ${after.activeHandles} handles, ${after.activeSessions} sessions.`
        : ""),
    `Per added session (least squares): RSS ${r.perSession.rssMB} MB, RSS−heap ${r.perSession.nativeMB} MB, CPU ${r.perSession.cpuPctOfCore}% of a core.`,
    ...r.steps.map(
      (s) =>
        `Bridge CPU by thread at ${s.users} users, ${s.connections} connection (% of a core): ${Object.entries(
          s.bridge.threadsPctOfCore,
        )
          .map(([name, pct]) => `${name.trim()} ${pct}`)
          .join(", ")}.`,
    ),
    "",
    targetsTable(report.targets),
    ...(report.notes.length > 0 ? ["", ...report.notes.map((n) => `- ${n}`)] : []),
    "",
  ].join("\n");
}

/** What the bridge added on a chirp path at p50, NaN (no point) when the chirp was not found. */
const chirpAdded = (path: ChirpPath | undefined) => (path?.found ? path.addedP50Ms : Number.NaN);

/** The bench figure: memory, CPU and latency against users. */
export function benchPanels(result: LadderResult): PlotPanel[] {
  const steps = result.steps;
  const series = (name: string, y: (s: StepResult) => number) =>
    steps.map((s) => ({
      x: s.users,
      y: y(s),
      series: s.connections === "shared" ? name : `${name}, conn/user`,
    }));
  const panel = (title: string, yTitle: string, points: PlotPanel["points"]): PlotPanel => ({
    title,
    xTitle: "users",
    yTitle,
    points,
  });
  return [
    panel("Bridge memory", "MB", [
      ...series("RSS", (s) => s.bridge.rssMB),
      ...series("RSS − heap", (s) => s.bridge.nativeMB),
    ]),
    panel("CPU (% of one core)", "% of one core", [
      ...series("bridge", (s) => s.bridge.cpuPctOfCore),
      ...series("load generator", (s) => s.load.benchCpuPctOfCore),
    ]),
    panel("Latency inside the bridge", "ms", [
      ...series("room→cloud p50", (s) => s.latency.insideToCloudMs.p50),
      ...series("room→cloud p99", (s) => s.latency.insideToCloudMs.p99),
      ...series("cloud→room p50", (s) => s.latency.insideToRoomMs.p50),
      ...series("cloud→room p99", (s) => s.latency.insideToRoomMs.p99),
      ...series("chirp added room→cloud p50", (s) => chirpAdded(s.latency.chirp?.roomToCloud)),
      ...series("chirp added cloud→room p50", (s) => chirpAdded(s.latency.chirp?.cloudToRoom)),
    ]),
    panel("Room→cloud latency per packet", "ms", [
      ...series("to client p50", (s) => s.latency.bridgeAddedMs.p50),
      ...series("to client p99", (s) => s.latency.bridgeAddedMs.p99),
      ...series("LiveKit path p50", (s) => s.latency.livekitPathMs.p50),
      ...series("LiveKit path p99", (s) => s.latency.livekitPathMs.p99),
    ]),
  ];
}
