/**
 * The two shapes of a device's data packet, and the per-session decision between them.
 * The MentraOS phone app sends `[sequence byte][16-bit LE PCM]` (odd length, the byte
 * counting modulo 256); other devices send bare PCM (even length). A single packet never
 * decides: the format is the one a run of consistent packets shows.
 */

/** How a session's device packets are laid out. */
export type DevicePacketFormat = "phone" | "raw";

/** A packet read in the session's format. */
export type ParsedPacket =
  | {
      readonly kind: "packet";
      /** The phone's sequence byte (0–255); undefined for raw PCM. */
      readonly sequence: number | undefined;
      /** Even-length PCM (a view into the payload). */
      readonly pcm: Uint8Array;
      /** When the packet arrived (ms, the caller's clock). */
      readonly arrivedAt: number;
    }
  /** A packet that fits neither format (or not the session's): counted, never played. */
  | { readonly kind: "invalid"; readonly byteLength: number; readonly arrivedAt: number };

/** Why the format was chosen. */
export type FormatDecisionReason =
  /** `consistentPackets` packets in a row showed it. */
  | "consistent"
  /** No consistent run within the hold bounds: the majority of held packets' shapes. */
  | "hold-limit";

/** Options of {@link createDevicePacketParser}. */
export interface DevicePacketParserOptions {
  /** Packets in a row that must agree before the format is decided (default 4). */
  readonly consistentPackets?: number;
  /** At most this many packets are held back while undecided (default 25). */
  readonly maxHeldPackets?: number;
  /** Nor for longer than this since the first held one (default 500 ms). */
  readonly maxHoldMs?: number;
  /** Called once, when the format is decided. */
  readonly onDecision?: (format: DevicePacketFormat, reason: FormatDecisionReason) => void;
}

/** Reads one session's device packets, deciding their format from the first ones. */
export interface DevicePacketParser {
  /** Takes a packet; returns what is ready, in arrival order (nothing while undecided). */
  push(payload: Uint8Array, arrivedAt: number): ParsedPacket[];
  /** Decides by the hold bounds if they have passed at `now`, releasing what was held. */
  poll(now: number): ParsedPacket[];
  /** When {@link poll} must be called next while undecided; undefined when nothing is held. */
  deadline(): number | undefined;
  /** The session's format, once decided. */
  readonly format: DevicePacketFormat | undefined;
}

const DEFAULTS = { consistentPackets: 4, maxHeldPackets: 25, maxHoldMs: 500 } as const;
/** The largest step between sequence bytes in a run that still counts as consistent. */
const MAX_CONSISTENT_STEP = 8;
/** The shortest phone packet: the sequence byte and one sample. */
const MIN_PHONE_BYTES = 3;

/** Which format a packet's shape alone fits, if any. */
export function shapeOf(payload: Uint8Array): DevicePacketFormat | undefined {
  if (payload.byteLength === 0) return undefined;
  if (payload.byteLength % 2 === 0) return "raw";
  return payload.byteLength >= MIN_PHONE_BYTES ? "phone" : undefined;
}

/** Reads `payload` in `format`. */
export function parsePacket(
  payload: Uint8Array,
  format: DevicePacketFormat,
  arrivedAt: number,
): ParsedPacket {
  if (shapeOf(payload) !== format) {
    return { kind: "invalid", byteLength: payload.byteLength, arrivedAt };
  }
  return format === "phone"
    ? { kind: "packet", sequence: payload[0], pcm: payload.subarray(1), arrivedAt }
    : { kind: "packet", sequence: undefined, pcm: payload, arrivedAt };
}

/**
 * Whether the held packets end in a run of `count` that agree: all raw, or all phone
 * packets whose sequence bytes step forward by 1 to {@link MAX_CONSISTENT_STEP}.
 */
function consistentRun(held: readonly Uint8Array[], count: number): DevicePacketFormat | undefined {
  if (held.length < count) return undefined;
  const run = held.slice(held.length - count);
  const shape = shapeOf(run[0] ?? new Uint8Array(0));
  if (shape === undefined || run.some((p) => shapeOf(p) !== shape)) return undefined;
  if (shape === "raw") return "raw";
  for (let i = 1; i < run.length; i++) {
    const step = ((run[i]?.[0] ?? 0) - (run[i - 1]?.[0] ?? 0) + 256) % 256;
    if (step < 1 || step > MAX_CONSISTENT_STEP) return undefined;
  }
  return "phone";
}

/**
 * Creates a parser. While undecided it holds packets back (within the bounds), then
 * releases them all in the chosen format: the phone's when `consistentPackets` odd packets
 * in a row carry stepping sequence bytes, raw when as many even ones come in a row; at a
 * bound without such a run, whichever shape most held packets have (the phone's on a tie).
 */
export function createDevicePacketParser(
  options: DevicePacketParserOptions = {},
): DevicePacketParser {
  const consistentPackets = options.consistentPackets ?? DEFAULTS.consistentPackets;
  const maxHeldPackets = options.maxHeldPackets ?? DEFAULTS.maxHeldPackets;
  const maxHoldMs = options.maxHoldMs ?? DEFAULTS.maxHoldMs;
  if (!Number.isInteger(consistentPackets) || consistentPackets < 2) {
    throw new RangeError(`consistentPackets must be an integer ≥ 2, got ${consistentPackets}`);
  }
  if (!Number.isInteger(maxHeldPackets) || maxHeldPackets < consistentPackets) {
    throw new RangeError(
      `maxHeldPackets must be an integer ≥ consistentPackets (${consistentPackets}), got ${maxHeldPackets}`,
    );
  }
  let format: DevicePacketFormat | undefined;
  let held: { payload: Uint8Array; arrivedAt: number }[] = [];

  function decide(chosen: DevicePacketFormat, reason: FormatDecisionReason): ParsedPacket[] {
    format = chosen;
    const released = held.map((p) => parsePacket(p.payload, chosen, p.arrivedAt));
    held = [];
    options.onDecision?.(chosen, reason);
    return released;
  }

  function majority(): DevicePacketFormat {
    let phone = 0;
    let raw = 0;
    for (const { payload } of held) {
      const shape = shapeOf(payload);
      if (shape === "phone") phone++;
      else if (shape === "raw") raw++;
    }
    return raw > phone ? "raw" : "phone";
  }

  return {
    push(payload, arrivedAt) {
      if (format !== undefined) return [parsePacket(payload, format, arrivedAt)];
      held.push({ payload, arrivedAt });
      const run = consistentRun(
        held.map((p) => p.payload),
        consistentPackets,
      );
      if (run !== undefined) return decide(run, "consistent");
      if (held.length >= maxHeldPackets) return decide(majority(), "hold-limit");
      return [];
    },
    poll(now) {
      const due = this.deadline();
      return due !== undefined && now >= due ? decide(majority(), "hold-limit") : [];
    },
    deadline() {
      const first = held[0];
      return format === undefined && first !== undefined ? first.arrivedAt + maxHoldMs : undefined;
    },
    get format() {
      return format;
    },
  };
}
