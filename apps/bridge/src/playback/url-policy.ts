import { lookup as dnsLookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";
import { networkInterfaces } from "node:os";
import ipaddr from "ipaddr.js";
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

/**
 * A URL as the bridge shows it (logs, PlayAudio events, error messages): without its user
 * name and password, which the download sends but nothing else repeats.
 */
export function shownUrl(url: URL): string {
  if (url.username === "" && url.password === "") return url.href;
  const copy = new URL(url.href);
  copy.username = "";
  copy.password = "";
  return copy.href;
}

/**
 * A redirect target as a server wrote it (a `Location` header, maybe relative, maybe not
 * a URL at all), without the credentials it may carry, for messages.
 */
export function shownLocation(location: string): string {
  return location.replace(/^([a-z][a-z0-9+.-]*:)?\/\/[^/?#]*@/i, "$1//");
}

/** Cloud metadata services: named as such, although their ranges are refused anyway. */
const METADATA = new Set(["169.254.169.254", "100.100.100.200", "fd00:ec2::254"].map(normalised));

/** What an error calls each of ipaddr.js's special ranges; others read "a <range> address". */
const RANGE_WORDS: Readonly<Record<string, string>> = {
  unspecified: "an unspecified address",
  broadcast: "a broadcast address",
  multicast: "a multicast address",
  linkLocal: "a link-local address",
  loopback: "a loopback address",
  carrierGradeNat: "a shared (carrier-grade NAT) address",
  private: "a private address",
  reserved: "a reserved (documentation or test) address",
  benchmarking: "a benchmarking address",
  uniqueLocal: "a private (unique local) address",
  deprecatedSiteLocal: "a site-local address",
  discard: "a discard-only address",
};

function rangeWord(range: string): string {
  return RANGE_WORDS[range] ?? `a non-unicast address (${range})`;
}

const v4Of = (high: number, low: number) =>
  new ipaddr.IPv4([high >> 8, high & 255, low >> 8, low & 255]);
const NAT64 = ipaddr.IPv6.parseCIDR("64:ff9b::/96");

/**
 * IPv4 addresses an IPv6 address carries, which is where its packets really go or come
 * from: mapped (::ffff:a.b.c.d), translated (::ffff:0:a.b.c.d), NAT64 (64:ff9b::/96),
 * the deprecated IPv4-compatible form (::a.b.c.d, which URLs normalise to ::7f00:1),
 * 6to4 (2002:AABB:CCDD::) and Teredo (server in bits 32-63, client inverted in the last
 * 32). Undefined when it carries none.
 */
function embeddedIpv4(ip: ipaddr.IPv6): ipaddr.IPv4[] | undefined {
  const [p0 = 0, p1 = 0, p2 = 0, p3 = 0, p4 = 0, p5 = 0, p6 = 0, p7 = 0] = ip.parts;
  const range = ip.range();
  if (range === "ipv4Mapped" || range === "rfc6145" || ip.match(NAT64)) return [v4Of(p6, p7)];
  if (range === "6to4") return [v4Of(p1, p2)];
  if (range === "teredo") return [v4Of(p2, p3), v4Of(p6 ^ 0xffff, p7 ^ 0xffff)];
  const compatible = p0 === 0 && p1 === 0 && p2 === 0 && p3 === 0 && p4 === 0 && p5 === 0;
  // :: and ::1 are the unspecified and loopback addresses, not IPv4-compatible ones.
  if (compatible && (p6 !== 0 || p7 > 1)) return [v4Of(p6, p7)];
  return undefined;
}

/** The addresses of this machine's own interfaces, normalised, read at each check. */
function systemInterfaceAddresses(): readonly string[] {
  return Object.values(networkInterfaces()).flatMap((entries) =>
    (entries ?? []).map((entry) => entry.address),
  );
}

function normalised(address: string): string {
  try {
    const ip = ipaddr.parse(address.split("%")[0] ?? address);
    return ip.kind() === "ipv6" && (ip as ipaddr.IPv6).isIPv4MappedAddress()
      ? (ip as ipaddr.IPv6).toIPv4Address().toString()
      : ip.toNormalizedString();
  } catch {
    return address;
  }
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
  /** This machine's own addresses (refused: they reach the bridge itself); default the live interfaces. */
  readonly interfaceAddresses?: () => readonly string[];
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

  const interfaceAddresses = options.interfaceAddresses ?? systemInterfaceAddresses;
  const allowed = (address: string) => allowedRanges.check(address, familyOf(address));

  // Only what ipaddr.js classifies as plain unicast may be fetched, and no address of
  // this machine: it could reach the bridge's own port or its neighbours' services.
  const refusal = (address: string): string | undefined => {
    let ip: ipaddr.IPv4 | ipaddr.IPv6;
    try {
      ip = ipaddr.parse(address);
    } catch {
      return "not an IP address";
    }
    const embedded = ip.kind() === "ipv6" ? embeddedIpv4(ip as ipaddr.IPv6) : undefined;
    const subjects = embedded?.map(String) ?? [normalised(address)];
    // The allow-list speaks of where packets go: a mapped address is its IPv4 address,
    // but 6to4, Teredo or IPv4-compatible forms of an allowed address are not allowed.
    const mapped = ip.kind() === "ipv6" && (ip as ipaddr.IPv6).isIPv4MappedAddress();
    if (allowed(address) || (mapped && subjects.every(allowed))) return undefined;
    if (subjects.some((subject) => METADATA.has(subject))) return "a cloud metadata address";
    const ranges = embedded?.map((v4) => v4.range()) ?? [ip.range()];
    const special = ranges.find((range) => range !== "unicast");
    if (special !== undefined) return rangeWord(special);
    const own = new Set(interfaceAddresses().map(normalised));
    if (subjects.some((subject) => own.has(subject))) return "an address of this machine";
    return undefined;
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
