import * as os from "node:os";

/** The machine a result came from, for labelling tables and plots. */
export interface MachineInfo {
  readonly cores: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly platform: string;
  /** ISO date-time the run started. */
  readonly date: string;
}

/** Describes this machine. */
export function describeMachine(): MachineInfo {
  return {
    cores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model.trim() ?? "unknown",
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    date: new Date().toISOString(),
  };
}

/** One line: "2 cores (AMD EPYC), 24 GiB, Node v20.x, 2026-…". */
export function machineLabel(machine: MachineInfo): string {
  return `${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.date.slice(0, 16).replace("T", " ")} UTC`;
}
