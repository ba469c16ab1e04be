import type { DevicePacketFormat } from "./device-packets.js";
import type { LiveKitCredentials } from "./token.js";

/** 20 ms blocks at 16 kHz: the unit a farm device numbers its audio in. */
export const FARM_BLOCK_SAMPLES = 320;

/** What the parent asks of the farm process; every request gets one reply. */
export type FarmRequest =
  | {
      readonly kind: "join";
      readonly id: string;
      readonly creds: LiveKitCredentials;
      readonly room: string;
      readonly identity: string;
      /** How the device lays out its packets (the phone's format by default). */
      readonly format?: DevicePacketFormat;
      /** LiveKit's reliable data channel instead of the lossy one the phone uses. */
      readonly reliable?: boolean;
    }
  | { readonly kind: "talk"; readonly blocksPerPacket: number; readonly maxMs: number }
  | { readonly kind: "listen"; readonly from: Record<string, string>; readonly timeoutMs: number }
  | { readonly kind: "stopListening" }
  | { readonly kind: "sends"; readonly fromMs: number; readonly toMs: number }
  | { readonly kind: "close" };

/** How one device's sends went within a window. */
export interface SendReport {
  /** Packets sent since talking began. */
  readonly sent: number;
  /** The longest a send begun within the window took (ms). */
  readonly slowestMs: number;
}

/** The reply to each request kind. */
export interface FarmReplies {
  readonly join: undefined;
  readonly talk: undefined;
  /** Which devices had a matching track subscribed before the timeout. */
  readonly listen: Record<string, boolean>;
  readonly stopListening: Record<string, Int16Array>;
  readonly sends: Record<string, SendReport>;
  readonly close: undefined;
}

/** A request on the wire, numbered. */
export interface FarmCall {
  readonly call: number;
  readonly request: FarmRequest;
}

/** A reply on the wire. */
export type FarmReply =
  | { readonly call: number; readonly ok: true; readonly value: unknown }
  | { readonly call: number; readonly ok: false; readonly error: string };
