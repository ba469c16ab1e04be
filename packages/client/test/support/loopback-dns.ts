import * as dgram from "node:dgram";
import * as net from "node:net";

/** The records one name has; a family left out is answered NOERROR with no records. */
export interface LoopbackRecords {
  a?: readonly string[];
  aaaa?: readonly string[];
}

const TYPE_A = 1;
const TYPE_AAAA = 28;
const CLASS_IN = 1;

/**
 * A minimal authoritative DNS server on 127.0.0.1 (UDP) for tests: answers A and AAAA
 * queries for the names it is given, NXDOMAIN for any other name, and SERVFAIL (or no
 * answer at all) when told to fail. It never sends anything anywhere but back to the
 * loopback client that asked.
 */
export class LoopbackDns {
  /** Questions received, as "A name" / "AAAA name". */
  readonly queries: string[] = [];
  /** "servfail": answer every query with SERVFAIL; "silent": drop every query. */
  failure: "servfail" | "silent" | undefined;
  /** TTL of the records answered, in seconds. */
  ttl = 0;
  private readonly names = new Map<string, LoopbackRecords>();

  private constructor(
    private readonly socket: dgram.Socket,
    readonly port: number,
  ) {
    socket.on("message", (message, remote) => {
      if (!net.isIP(remote.address) || !isLoopback(remote.address)) return;
      const answer = this.answer(message);
      if (answer !== undefined) socket.send(answer, remote.port, remote.address);
    });
  }

  /** Starts a server on 127.0.0.1 at a free port. */
  static async start(): Promise<LoopbackDns> {
    const socket = dgram.createSocket("udp4");
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(0, "127.0.0.1", () => {
        socket.off("error", reject);
        resolve();
      });
    });
    return new LoopbackDns(socket, socket.address().port);
  }

  /** `127.0.0.1:<port>`, for `Resolver.setServers`. */
  get server(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Sets (or with undefined, removes) the records of `name`. */
  set(name: string, records: LoopbackRecords | undefined): void {
    const key = name.toLowerCase().replace(/\.$/, "");
    if (records === undefined) this.names.delete(key);
    else this.names.set(key, records);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private answer(query: Buffer): Buffer | undefined {
    if (this.failure === "silent" || query.length < 12) return undefined;
    const id = query.readUInt16BE(0);
    const flags = query.readUInt16BE(2);
    if (flags & 0x8000 || query.readUInt16BE(4) !== 1) return undefined; // a response, or not one question
    // The question: labels, then type and class.
    const labels: string[] = [];
    let offset = 12;
    for (;;) {
      const length = query[offset];
      if (length === undefined || length > 63) return undefined;
      offset++;
      if (length === 0) break;
      labels.push(query.toString("latin1", offset, offset + length));
      offset += length;
    }
    if (offset + 4 > query.length) return undefined;
    const type = query.readUInt16BE(offset);
    const questionEnd = offset + 4;
    const name = labels.join(".").toLowerCase();
    this.queries.push(`${type === TYPE_A ? "A" : type === TYPE_AAAA ? "AAAA" : type} ${name}`);
    const records = this.names.get(name);
    const rcode = this.failure === "servfail" ? 2 : records === undefined ? 3 : 0;
    const addresses =
      rcode !== 0
        ? []
        : type === TYPE_A
          ? (records?.a ?? [])
          : type === TYPE_AAAA
            ? (records?.aaaa ?? [])
            : [];
    const answers = addresses.map((address) => {
      const rdata = type === TYPE_A ? ipv4Bytes(address) : ipv6Bytes(address);
      const record = Buffer.alloc(12 + rdata.length);
      record.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
      record.writeUInt16BE(type, 2);
      record.writeUInt16BE(CLASS_IN, 4);
      record.writeUInt32BE(this.ttl, 6);
      record.writeUInt16BE(rdata.length, 10);
      rdata.copy(record, 12);
      return record;
    });
    const header = Buffer.alloc(12);
    header.writeUInt16BE(id, 0);
    // QR, AA, the query's RD, RA, and the rcode.
    header.writeUInt16BE(0x8000 | 0x0400 | (flags & 0x0100) | 0x0080 | rcode, 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    return Buffer.concat([header, query.subarray(12, questionEnd), ...answers]);
  }
}

function isLoopback(address: string): boolean {
  return address.startsWith("127.") || address === "::1" || address === "::ffff:127.0.0.1";
}

function ipv4Bytes(address: string): Buffer {
  if (!net.isIPv4(address)) throw new RangeError(`not an IPv4 address: ${address}`);
  return Buffer.from(address.split(".").map(Number));
}

function ipv6Bytes(address: string): Buffer {
  if (!net.isIPv6(address)) throw new RangeError(`not an IPv6 address: ${address}`);
  const [head = "", tail] = address.split("::");
  const groups = (part: string) => (part === "" ? [] : part.split(":"));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
  const bytes = Buffer.alloc(16);
  for (const [i, group] of all.entries()) bytes.writeUInt16BE(Number.parseInt(group, 16), i * 2);
  return bytes;
}
