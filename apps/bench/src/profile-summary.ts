import { readFileSync } from "node:fs";

/** The parts of a V8 .cpuprofile (node --cpu-prof) this summary reads. */
interface CpuProfile {
  readonly nodes: readonly {
    readonly id: number;
    readonly callFrame: {
      readonly functionName: string;
      readonly url: string;
      readonly lineNumber: number;
    };
  }[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

/** Where a function's code lives, coarse enough to say which layer costs the time. */
export function codeArea(url: string, functionName: string): string {
  if (url === "") {
    if (functionName === "(idle)") return "idle";
    if (functionName === "(garbage collector)") return "GC";
    if (functionName === "(program)") return "native (program)";
    return `native ${functionName}`;
  }
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules)/.exec(url);
  if (pkg?.[1]) return pkg[1].replace(/@\d.*$/, "");
  if (url.startsWith("node:")) return "node core";
  const bridge = /apps\/bridge\/dist\/([^/]+)\//.exec(url);
  if (bridge) return `bridge ${bridge[1]}`;
  if (/apps\/bridge\/dist\//.test(url)) return "bridge";
  return url.replace(/^.*\//, "");
}

/** Self time of each function and of each code area over a profile, as Markdown. */
export function summariseProfile(path: string, top = 25): string {
  const profile = JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const totalUs = profile.endTime - profile.startTime;
  const byFunction = new Map<string, { us: number; area: string }>();
  const byArea = new Map<string, number>();
  let idleUs = 0;
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0;
    if (us === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const area = codeArea(url, functionName);
    if (area === "idle") idleUs += us;
    byArea.set(area, (byArea.get(area) ?? 0) + us);
    const name = `${functionName || "(anonymous)"} ${url.replace(/^.*\/(node_modules|dist)\//, "")}:${lineNumber + 1}`;
    const entry = byFunction.get(name) ?? { us: 0, area };
    entry.us += us;
    byFunction.set(name, entry);
  }
  const busyUs = totalUs - idleUs;
  const pct = (us: number) => ((100 * us) / totalUs).toFixed(1);
  const ofBusy = (us: number) => ((100 * us) / busyUs).toFixed(1);
  const lines = [
    `Profile ${path.replace(/^.*\//, "")}: ${(totalUs / 1e6).toFixed(1)} s, JS thread busy ${pct(busyUs)}% of it.`,
    "",
    "| area | self % of wall | % of busy |",
    "|---|---|---|",
    ...[...byArea]
      .filter(([area]) => area !== "idle")
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([area, us]) => `| ${area} | ${pct(us)} | ${ofBusy(us)} |`),
    "",
    "| function (self time) | area | self % of wall | % of busy |",
    "|---|---|---|---|",
    ...[...byFunction]
      .filter(([, v]) => v.area !== "idle")
      .sort((a, b) => b[1].us - a[1].us)
      .slice(0, top)
      .map(([name, v]) => `| \`${name}\` | ${v.area} | ${pct(v.us)} | ${ofBusy(v.us)} |`),
  ];
  return `${lines.join("\n")}\n`;
}
