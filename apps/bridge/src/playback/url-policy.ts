import { lookup as dnsLookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";
import { PlaybackError } from "./errors.js";

/** Thrown by {@link parseAudioUrl} for a URL the request itself gets wrong (InvalidArgument). */
export class AudioUrlError extends Error {
  override readonly name = "AudioUrlError";
}

/** Schemes PlayAudio fetches; everything else (ftp, file, data…) is refused up front. */
const SCHEMES = new Set(["http:", "https:"]);

/** Parses `audio_url`: an absolute http(s) URL with a host, or {@link AudioUrlError}. */
export function parseAudioUrl(raw: string): URL {
  if (raw.trim() === "") throw new AudioUrlError("audio_url is required");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new AudioUrlError(`audio_url is not a valid URL: ${JSON.stringify(raw)}`);
  }
  if (!SCHEMES.has(url.protocol)) {
    throw new AudioUrlError(
      `audio_url must be http:// or https://, got ${url.protocol}// (${JSON.stringify(raw)})`,
    );
  }
  if (url.hostname === "") throw new AudioUrlError(`audio_url has no host: ${JSON.stringify(raw)}`);
  return url;
}

/** Ranges no audio URL may reach unless allowed, each with the word an error uses for it. */
const BLOCKED: readonly (readonly [cidr: string, what: string])[] = [
  ["169.254.169.254/32", "a cloud metadata address"],
  ["100.100.100.200/32", "a cloud metadata address"],
  ["fd00:ec2::254/128", "a cloud metadata address"],
  ["0.0.0.0/8", "an unspecified address"],
  ["127.0.0.0/8", "a loopback address"],
  ["10.0.0.0/8", "a private address"],
  ["172.16.0.0/12", "a private address"],
  ["192.168.0.0/16", "a private address"],
  ["100.64.0.0/10", "a shared (carrier-grade NAT) address"],
  ["169.254.0.0/16", "a link-local address"],
  ["192.0.0.0/24", "a reserved address"],
  ["198.18.0.0/15", "a benchmarking address"],
  ["224.0.0.0/4", "a multicast address"],
  ["240.0.0.0/4", "a reserved address"],
  ["::/128", "an unspecified address"],
  ["::1/128", "a loopback address"],
  ["fe80::/10", "a link-local address"],
  ["fc00::/7", "a private (unique local) address"],
  ["ff00::/8", "a multicast address"],
];

const blockLists = BLOCKED.map(([cidr, what]) => ({ list: blockListOf([cidr]), what }));

/** IPv4 addresses hidden inside IPv6 ones (mapped, compatible, NAT64) are judged as IPv4. */
function embeddedIpv4(address: string): string | undefined {
  const match = /^(?:::ffff:|::|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (match?.[1] !== undefined) return match[1];
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (hex?.[1] === undefined || hex[2] === undefined) return undefined;
  const high = Number.parseInt(hex[1], 16);
  const low = Number.parseInt(hex[2], 16);
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

function familyOf(address: string): "ipv4" | "ipv6" {
  return isIP(address) === 6 ? "ipv6" : "ipv4";
}

function blockListOf(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = "", prefix] = entry.split("/");
    const family = familyOf(address);
    if (prefix === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(prefix), family);
  }
  return list;
}

/** Whether `entry` is an IP address, a CIDR range or a host name (for config validation). */
export function isAllowEntry(entry: string): boolean {
  const [address = "", prefix, extra] = entry.split("/");
  if (extra !== undefined) return false;
  const version = isIP(address);
  if (prefix !== undefined) {
    const bits = Number(prefix);
    return version !== 0 && /^\d+$/.test(prefix) && bits <= (version === 4 ? 32 : 128);
  }
  return (
    version !== 0 ||
    /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i.test(entry)
  );
}

/** A resolved address a download may connect to. */
export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/** Decides which hosts audio may be fetched from, after DNS resolution. */
export interface AddressPolicy {
  /**
   * Resolves `hostname` (a name or an IP literal) and returns the address to connect to,
   * or throws a `refused` {@link PlaybackError} when any address it resolves to is
   * loopback, private, link-local, metadata or otherwise internal and not allowed.
   */
  resolve(hostname: string): Promise<ResolvedAddress>;
}

/** Options of {@link createAddressPolicy}. */
export interface AddressPolicyOptions {
  /** Host names, IP addresses and CIDR ranges that are allowed even though internal. */
  readonly allow: readonly string[];
  /** DNS resolution, replaced in tests. */
  readonly lookup?: (hostname: string) => Promise<readonly ResolvedAddress[]>;
}

async function systemLookup(hostname: string): Promise<readonly ResolvedAddress[]> {
  const found = await dnsLookup(hostname, { all: true, verbatim: true });
  return found.map((entry) => ({ address: entry.address, family: entry.family === 6 ? 6 : 4 }));
}

/**
 * Creates the policy of `PLAYBACK_ALLOW_HOSTS`. Every address a name resolves to must be
 * acceptable (so a name cannot mix a public and an internal record), and the download
 * connects to the address checked here, so DNS cannot change its answer in between.
 */
export function createAddressPolicy(options: AddressPolicyOptions): AddressPolicy {
  const allowedNames = new Set(
    options.allow.filter((entry) => isIP(entry.split("/")[0] ?? "") === 0).map(lower),
  );
  const allowedRanges = blockListOf(
    options.allow.filter((entry) => isIP(entry.split("/")[0] ?? "") !== 0),
  );
  const lookup = options.lookup ?? systemLookup;

  const refusal = (address: string): string | undefined => {
    const v4 = embeddedIpv4(address);
    const subject = v4 ?? address;
    const family = familyOf(subject);
    if (allowedRanges.check(subject, family)) return undefined;
    return blockLists.find((entry) => entry.list.check(subject, family))?.what;
  };

  return {
    async resolve(hostname) {
      const host = lower(hostname.replace(/^\[(.*)\]$/, "$1"));
      const literal = isIP(host);
      let addresses: readonly ResolvedAddress[];
      if (literal !== 0) {
        addresses = [{ address: host, family: literal === 6 ? 6 : 4 }];
      } else {
        try {
          addresses = await lookup(host);
        } catch (error) {
          const code = (error as { code?: string }).code ?? String(error);
          throw new PlaybackError("network", `could not resolve ${host}: ${code}`);
        }
      }
      const first = addresses[0];
      if (first === undefined) throw new PlaybackError("network", `${host} has no address`);
      if (allowedNames.has(host)) return first;
      for (const { address } of addresses) {
        const what = refusal(address);
        if (what !== undefined) {
          const why = literal === 0 ? `it resolves to ${address}, ${what}` : `it is ${what}`;
          throw new PlaybackError(
            "refused",
            `refused to fetch audio from ${host}: ${why} (PLAYBACK_ALLOW_HOSTS can allow it)`,
          );
        }
      }
      return first;
    },
  };
}

function lower(text: string): string {
  return text.toLowerCase();
}
