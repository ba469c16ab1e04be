/**
 * A real livekit-server for tests and for the embedded LiveKit of `npm start`,
 * isolated in a network namespace of its own where it can be.
 */

export { E2E_OPT_OUT_ENV, e2eGate } from "./e2e-gate.js";
export {
  isolationUnavailableReason,
  NETNS_PREFIX,
  namespacesOwnedBy,
  pidAlive,
  pidsInNamespace,
  removeLeftoverNamespaces,
} from "./netns.js";
export type { NetworkFaults } from "./network-faults.js";
export { livekitServerBinary } from "./paths.js";
export type { RedisReply, RigRedis } from "./redis.js";
export {
  clusterNodePorts,
  type LiveKitCluster,
  type LiveKitClusterNode,
  MAX_CLUSTER_NODES,
  type StartLiveKitClusterOptions,
  startLiveKitCluster,
} from "./start-cluster.js";
export {
  type IsolationMode,
  type LiveKitRig,
  type StartLiveKitOptions,
  startLiveKit,
} from "./start-livekit.js";
