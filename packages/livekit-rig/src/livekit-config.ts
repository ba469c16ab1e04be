/** What the generated livekit-server configuration needs to know. */
export interface LiveKitConfigOptions {
  /** Address livekit-server binds its HTTP/WebSocket port to. */
  bindIp: string;
  /** The signalling (HTTP/WebSocket) port. */
  port: number;
  /**
   * UDP for WebRTC media: one port all of it goes through (ICE UDP mux), or a
   * range livekit-server takes one port from per peer connection.
   */
  udpPort: number | { start: number; end: number };
  /** The ICE/TCP fallback port. */
  tcpPort: number;
  /** API key and secret that tokens are signed with. */
  apiKey: string;
  apiSecret: string;
  /** When isolated: the only interface and address media may use. */
  isolatedTo?: { interface: string; ip: string };
  /** livekit-server's own log level. */
  logLevel: "debug" | "info" | "warn" | "error";
  /**
   * A Redis shared with other livekit-server nodes: with it they form one cluster,
   * and a client may join a room through any node.
   */
  redis?: { address: string; password?: string };
}

/**
 * Builds livekit-server's configuration. JSON is valid YAML, so it is written
 * as JSON. When isolated, the server advertises only its namespace address and
 * hands clients a STUN server inside the namespace: left to its defaults it
 * would send clients, and itself, to public STUN servers, which our network
 * rule forbids.
 */
export function livekitConfig(options: LiveKitConfigOptions): string {
  const { isolatedTo, udpPort } = options;
  const udp =
    typeof udpPort === "number"
      ? { udp_port: udpPort }
      : { port_range_start: udpPort.start, port_range_end: udpPort.end };
  const rtc: Record<string, unknown> = {
    ...udp,
    tcp_port: options.tcpPort,
    use_external_ip: false,
    enable_loopback_candidate: false,
  };
  if (isolatedTo) {
    rtc.node_ip = isolatedTo.ip;
    rtc.interfaces = { includes: [isolatedTo.interface] };
    // Nothing listens there; it only keeps STUN traffic inside the namespace.
    rtc.stun_servers = [`${isolatedTo.ip}:3478`];
  }
  return JSON.stringify(
    {
      port: options.port,
      bind_addresses: [options.bindIp],
      rtc,
      keys: { [options.apiKey]: options.apiSecret },
      ...(options.redis ? { redis: options.redis } : {}),
      logging: { level: options.logLevel, pion_level: "error" },
      turn: { enabled: false },
      // Admins may unmute too (tests mute and unmute a device through the room service).
      room: { empty_timeout: 60, departure_timeout: 5, enable_remote_unmute: true },
    },
    null,
    2,
  );
}
