import { int16FromBigEndian, int16FromLittleEndian } from "@mentra/pcm";
import {
  type ByteOrder,
  type ByteOrderJudgement,
  type JudgeByteOrderOptions,
  judgeByteOrder,
} from "./byte-order-judge.js";

export type { ByteOrder } from "./byte-order-judge.js";

/** How a session's device PCM is ordered: fixed, or detected from the first audio. */
export type ByteOrderMode = ByteOrder | "auto";

/** Why and on what evidence an "auto" normaliser settled on a byte order. */
export interface EndiannessDecisionStats {
  /**
   * "signal": a window was clearly one order; "undecided-limit": only silence or noise
   * arrived within `maxUndecidedBytes`, so little-endian; "flush": the stream ended first.
   */
  readonly reason: "signal" | "undecided-limit" | "flush";
  /** Bytes held back until the decision, all released with it. */
  readonly bufferedBytes: number;
  /** The last window judged, if one was. */
  readonly judgement: ByteOrderJudgement | undefined;
}

/** Options of {@link createEndiannessNormaliser}. */
export interface EndiannessNormaliserOptions extends JudgeByteOrderOptions {
  readonly mode: ByteOrderMode;
  /** Bytes judged at a time in "auto" mode; even (default 3200: 100 ms of 16 kHz mono). */
  readonly decisionBytes?: number;
  /** Bytes after which "auto" gives up waiting for a clear window and picks little-endian (default 32000: 1 s). */
  readonly maxUndecidedBytes?: number;
  /** Called once when "auto" mode decides; not called for a fixed mode. */
  readonly onDecision?: (order: ByteOrder, stats: EndiannessDecisionStats) => void;
}

/** Turns one session's raw device PCM bytes into native samples in the right byte order. */
export interface EndiannessNormaliser {
  /**
   * Takes the next even-length bytes (drop a packet's odd trailing byte first; an odd length
   * throws RangeError) and returns the samples that are ready, in order: in "auto" mode
   * nothing until the order is decided, then everything held back plus the new bytes.
   */
  push(bytes: Uint8Array): Int16Array<ArrayBuffer>[];
  /** Decides now if still undecided (on the undecided tail, else little-endian) and returns what was held back. */
  flush(): Int16Array<ArrayBuffer>[];
  /** The byte order in use, or undefined while "auto" mode is still listening. */
  readonly decided: ByteOrder | undefined;
}

const DEFAULT_DECISION_BYTES = 3_200;
const DEFAULT_MAX_UNDECIDED_BYTES = 32_000;

/**
 * Creates a per-session byte-order normaliser. In "auto" mode it holds audio back, judging
 * it `decisionBytes` at a time with {@link judgeByteOrder}; silent and ambiguous windows are
 * skipped so a quiet start cannot lock in the wrong order. Audio is never dropped or reordered.
 */
export function createEndiannessNormaliser(
  options: EndiannessNormaliserOptions,
): EndiannessNormaliser {
  const decisionBytes = options.decisionBytes ?? DEFAULT_DECISION_BYTES;
  const maxUndecidedBytes = options.maxUndecidedBytes ?? DEFAULT_MAX_UNDECIDED_BYTES;
  if (!Number.isInteger(decisionBytes) || decisionBytes < 4 || decisionBytes % 2 !== 0) {
    throw new RangeError(
      `decisionBytes must be an even integer of at least 4, got ${decisionBytes}`,
    );
  }
  if (!Number.isInteger(maxUndecidedBytes) || maxUndecidedBytes < decisionBytes) {
    throw new RangeError(
      `maxUndecidedBytes must be an integer of at least decisionBytes (${decisionBytes}), got ${maxUndecidedBytes}`,
    );
  }
  let decided: ByteOrder | undefined = options.mode === "auto" ? undefined : options.mode;
  // Held-back bytes live in one growing buffer so windows can span pushes.
  let pending = new Uint8Array(0);
  let pendingLength = 0;
  let judgedLength = 0;
  let lastJudgement: ByteOrderJudgement | undefined;

  function convert(bytes: Uint8Array, order: ByteOrder): Int16Array<ArrayBuffer> {
    return order === "little" ? int16FromLittleEndian(bytes) : int16FromBigEndian(bytes);
  }

  function hold(bytes: Uint8Array): void {
    const needed = pendingLength + bytes.byteLength;
    if (needed > pending.byteLength) {
      const grown = new Uint8Array(Math.max(needed, 2 * pending.byteLength, decisionBytes));
      grown.set(pending.subarray(0, pendingLength));
      pending = grown;
    }
    pending.set(bytes, pendingLength);
    pendingLength = needed;
  }

  function decide(
    order: ByteOrder,
    reason: EndiannessDecisionStats["reason"],
  ): Int16Array<ArrayBuffer>[] {
    decided = order;
    const released = convert(pending.subarray(0, pendingLength), order);
    const stats = { reason, bufferedBytes: pendingLength, judgement: lastJudgement };
    pending = new Uint8Array(0);
    pendingLength = 0;
    judgedLength = 0;
    options.onDecision?.(order, stats);
    return released.length === 0 ? [] : [released];
  }

  function judge(end: number): ByteOrderJudgement {
    lastJudgement = judgeByteOrder(pending.subarray(judgedLength, end), options);
    judgedLength = end;
    return lastJudgement;
  }

  return {
    push(bytes) {
      if (bytes.byteLength % 2 !== 0) {
        throw new RangeError(
          `device PCM pushes must have an even byte length, got ${bytes.byteLength}; drop the odd trailing byte first`,
        );
      }
      if (decided !== undefined) return bytes.byteLength === 0 ? [] : [convert(bytes, decided)];
      hold(bytes);
      while (pendingLength - judgedLength >= decisionBytes) {
        const { verdict } = judge(judgedLength + decisionBytes);
        if (verdict === "little" || verdict === "big") return decide(verdict, "signal");
      }
      if (pendingLength >= maxUndecidedBytes) return decide("little", "undecided-limit");
      return [];
    },
    flush() {
      if (decided !== undefined) return [];
      if (pendingLength > judgedLength) {
        const { verdict } = judge(pendingLength);
        if (verdict === "little" || verdict === "big") return decide(verdict, "flush");
      }
      return decide("little", "flush");
    },
    get decided() {
      return decided;
    },
  };
}
