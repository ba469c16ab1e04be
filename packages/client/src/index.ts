/**
 * `@mentra/bridge-client`: what the MentraOS cloud imports to talk to the
 * LiveKit bridge. This first version covers health; sessions, audio and
 * playback follow with the client issue.
 */
export {
  type BridgeClient,
  type BridgeClientOptions,
  type BridgeHealth,
  type BridgeProtocol,
  type CallOptions,
  createBridgeClient,
} from "./create-bridge-client.js";
