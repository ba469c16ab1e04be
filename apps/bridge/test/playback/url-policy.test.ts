import { networkInterfaces } from "node:os";
import { describe, expect, it } from "vitest";
import { PlaybackError } from "../../src/playback/errors.js";
import {
  AudioUrlError,
  createAddressPolicy,
  isAllowEntry,
  parseAudioUrl,
  type ResolvedAddress,
} from "../../src/playback/url-policy.js";

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof PlaybackError) return `${error.code}: ${error.message}`;
    throw error;
  }
  return "allowed";
}

describe("audio URL parsing", () => {
  it.each([
    ["", "audio_url is required"],
    ["not a url", 'audio_url is not a valid URL: "not a url"'],
    [
      "ftp://example.com/a.mp3",
      'audio_url must be http:// or https://, got ftp:// ("ftp://example.com/a.mp3")',
    ],
    [
      "file:///etc/passwd",
      'audio_url must be http:// or https://, got file:// ("file:///etc/passwd")',
    ],
    [
      "data:audio/wav;base64,AAAA",
      'audio_url must be http:// or https://, got data:// ("data:audio/wav;base64,AAAA")',
    ],
  ])("refuses %j", (raw, message) => {
    expect(() => parseAudioUrl(raw)).toThrow(new AudioUrlError(message));
  });

  it("accepts http and https URLs", () => {
    expect(parseAudioUrl("https://cdn.example.com/a.mp3?x=1").host).toBe("cdn.example.com");
    expect(parseAudioUrl("http://[2001:db8::1]:8080/a.wav").hostname).toBe("[2001:db8::1]");
  });
});

describe("address policy", () => {
  const resolver =
    (table: Record<string, string[]>) =>
    async (host: string): Promise<ResolvedAddress[]> =>
      (table[host] ?? []).map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));

  it.each([
    ["127.0.0.1", "it is a loopback address"],
    ["10.1.2.3", "it is a private address"],
    ["172.20.0.1", "it is a private address"],
    ["192.168.1.1", "it is a private address"],
    ["169.254.169.254", "it is a cloud metadata address"],
    ["169.254.10.10", "it is a link-local address"],
    ["100.100.100.200", "it is a cloud metadata address"],
    ["0.0.0.0", "it is an unspecified address"],
    ["::1", "it is a loopback address"],
    ["::ffff:127.0.0.1", "it is a loopback address"],
    ["::ffff:a9fe:a9fe", "it is a cloud metadata address"],
    ["fe80::1", "it is a link-local address"],
    ["fd00:ec2::254", "it is a cloud metadata address"],
    ["fc00::5", "it is a private (unique local) address"],
  ])("refuses the literal address %s", async (address, why) => {
    const policy = createAddressPolicy({ allow: [] });
    expect(await refusal(policy.resolve(address.includes(":") ? `[${address}]` : address))).toBe(
      `refused: refused to fetch audio from ${address}: ${why} (PLAYBACK_ALLOW_HOSTS can allow it)`,
    );
  });

  it("refuses a name when any of its addresses is internal", async () => {
    const policy = createAddressPolicy({
      allow: [],
      lookup: resolver({ "mixed.test": ["93.184.216.34", "10.0.0.7"] }),
    });
    expect(await refusal(policy.resolve("mixed.test"))).toBe(
      "refused: refused to fetch audio from mixed.test: it resolves to 10.0.0.7, a private address (PLAYBACK_ALLOW_HOSTS can allow it)",
    );
  });

  it("returns the checked address of a public name, to connect to exactly that one", async () => {
    const policy = createAddressPolicy({
      allow: [],
      lookup: resolver({ "cdn.test": ["93.184.216.34"] }),
    });
    expect(await policy.resolve("CDN.test")).toEqual({ address: "93.184.216.34", family: 4 });
  });

  it("allows exactly the hosts, addresses and ranges of the allow-list", async () => {
    const policy = createAddressPolicy({
      allow: ["127.0.0.1", "10.8.0.0/16", "audio.internal"],
      lookup: resolver({ "audio.internal": ["10.9.9.9"], "other.internal": ["10.9.9.9"] }),
    });
    expect(await refusal(policy.resolve("127.0.0.1"))).toBe("allowed");
    expect(await refusal(policy.resolve("10.8.200.1"))).toBe("allowed");
    expect(await refusal(policy.resolve("audio.internal"))).toBe("allowed");
    expect(await refusal(policy.resolve("127.0.0.2"))).toMatch(/^refused: .*loopback/);
    // Mapped is the same address; 6to4 and IPv4-compatible forms of it are not.
    expect(await refusal(policy.resolve("[::ffff:127.0.0.1]"))).toBe("allowed");
    expect(await refusal(policy.resolve("[::7f00:1]"))).toMatch(/^refused: .*loopback/);
    expect(await refusal(policy.resolve("[2002:7f00:1::]"))).toMatch(/^refused: .*loopback/);
    expect(await refusal(policy.resolve("10.9.0.1"))).toMatch(/^refused: .*private/);
    expect(await refusal(policy.resolve("other.internal"))).toMatch(
      /^refused: .*resolves to 10\.9\.9\.9/,
    );
  });

  it("reports a name that does not resolve as a network error", async () => {
    const policy = createAddressPolicy({
      allow: [],
      lookup: async () => {
        throw Object.assign(new Error("nope"), { code: "ENOTFOUND" });
      },
    });
    expect(await refusal(policy.resolve("missing.test"))).toBe(
      "network: could not resolve missing.test: ENOTFOUND",
    );
  });

  it.each([
    ["127.0.0.1", true],
    ["10.0.0.0/8", true],
    ["fd00::/8", true],
    ["audio.internal", true],
    ["10.0.0.0/33", false],
    ["not a host", false],
    ["a/b/c", false],
  ])("validates allow-list entry %s", (entry, valid) => {
    expect(isAllowEntry(entry)).toBe(valid);
  });
});

describe("address policy: ranges and embedded addresses ipaddr.js classifies (issue #17)", () => {
  // Each URL as a caller would send it; the URL parser's normal form is what gets checked.
  const CASES: readonly (readonly [url: string, why: string])[] = [
    ["http://192.0.2.1/a.mp3", "a reserved (documentation or test) address"],
    ["http://198.51.100.7/a.mp3", "a reserved (documentation or test) address"],
    ["http://203.0.113.9/a.mp3", "a reserved (documentation or test) address"],
    ["http://192.88.99.1/a.mp3", "a reserved (documentation or test) address"],
    ["http://[2001:db8::1]/a.mp3", "a reserved (documentation or test) address"],
    ["http://[100::1]/a.mp3", "a discard-only address"],
    // 6to4 with 127.0.0.1, 10.0.0.1 and 169.254.169.254 inside.
    ["http://[2002:7f00:1::1]/a.mp3", "a loopback address"],
    ["http://[2002:a00:1::]/a.mp3", "a private address"],
    ["http://[2002:a9fe:a9fe::]/a.mp3", "a cloud metadata address"],
    // IPv4-compatible ::127.0.0.1 (the URL parser makes it ::7f00:1) and translated.
    ["http://[::127.0.0.1]/a.mp3", "a loopback address"],
    ["http://[::7f00:1]/a.mp3", "a loopback address"],
    ["http://[::ffff:0:127.0.0.1]/a.mp3", "a loopback address"],
    ["http://[::10.1.2.3]:8080/a.mp3", "a private address"],
    // Teredo whose client (inverted in the last 32 bits) is 127.0.0.1.
    ["http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/a.mp3", "a loopback address"],
    // NAT64 of a private address; mapped in hex.
    ["http://[64:ff9b::10.0.0.1]/a.mp3", "a private address"],
    ["http://[::ffff:7f00:1]/a.mp3", "a loopback address"],
    ["http://255.255.255.255/a.mp3", "a broadcast address"],
    ["http://0x7f.1/a.mp3", "a loopback address"],
  ];

  it.each(CASES)("refuses %s (%s)", async (raw, why) => {
    const url = parseAudioUrl(raw);
    const policy = createAddressPolicy({ allow: [], interfaceAddresses: () => [] });
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    expect(await refusal(policy.resolve(url.hostname))).toBe(
      `refused: refused to fetch audio from ${host}: it is ${why} (PLAYBACK_ALLOW_HOSTS can allow it)`,
    );
  });

  it("refuses a name whose records hide an internal address in 6to4 or IPv4-compatible form", async () => {
    for (const hidden of ["2002:7f00:1::", "::7f00:1", "::ffff:0:a00:1"]) {
      const policy = createAddressPolicy({
        allow: [],
        interfaceAddresses: () => [],
        lookup: async () => [
          { address: "93.184.216.34", family: 4 },
          { address: hidden, family: 6 },
        ],
      });
      expect(await refusal(policy.resolve("rebind.test"))).toMatch(
        new RegExp(
          `^refused: .*resolves to ${hidden.replaceAll(".", "\\.")}, a (loopback|private) address`,
        ),
      );
    }
  });

  it("refuses every address of the machine's own interfaces, whatever its range", async () => {
    // A public-looking address that is this machine's: refused as such.
    const own = createAddressPolicy({
      allow: [],
      interfaceAddresses: () => ["93.184.216.34", "2a00:1450::5"],
    });
    expect(await refusal(own.resolve("93.184.216.34"))).toMatch(/it is an address of this machine/);
    expect(await refusal(own.resolve("[2a00:1450:0:0::5]"))).toMatch(
      /it is an address of this machine/,
    );
    expect(await refusal(own.resolve("[::ffff:93.184.216.34]"))).toMatch(
      /an address of this machine/,
    );
    expect(await refusal(own.resolve("93.184.216.35"))).toBe("allowed");
    // The real interfaces (eth0 here is 192.0.2.2): each one is refused. Nothing is sent.
    const live = createAddressPolicy({ allow: [] });
    const addresses = Object.values(networkInterfaces()).flatMap((list) =>
      (list ?? []).map((entry) => entry.address.split("%")[0] ?? entry.address),
    );
    expect(addresses.length).toBeGreaterThan(0);
    for (const address of addresses) {
      const host = address.includes(":") ? `[${address}]` : address;
      expect(await refusal(live.resolve(host)), address).toMatch(/^refused: /);
    }
  });

  it("still allows plain public unicast addresses", async () => {
    const policy = createAddressPolicy({ allow: [], interfaceAddresses: () => [] });
    for (const host of [
      "93.184.216.34",
      "[2606:4700::1111]",
      "[::ffff:93.184.216.34]",
      "[2002:5db8:d822::]",
    ]) {
      expect(await refusal(policy.resolve(host)), host).toBe("allowed");
    }
  });
});
