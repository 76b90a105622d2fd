/**
 * machine.ts: which machine a bench ran on, for the report header and the JSON: CPU model,
 * cores, Node version, kernel, load at the start (a shared machine makes numbers noisy), and
 * how the run was set up (pinning, quick or full).
 */
import { cpus, loadavg, release, totalmem } from 'node:os';

export interface Machine {
  cpu: string;
  cores: number;
  node: string;
  kernel: string;
  platform: string;
  arch: string;
  memoryGiB: number;
  /** 1-minute load average when the run started. */
  load1: number;
  /** ISO time the run started. */
  date: string;
  /** `bench on CPU a, peers on CPU b`, or `none` with the reason. */
  pinning: string;
  mode: 'quick' | 'full' | 'custom';
}

export function describeMachine(setup: { pinning: string; mode: Machine['mode'] }): Machine {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    node: process.version,
    kernel: release(),
    platform: process.platform,
    arch: process.arch,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    load1: Math.round(loadavg()[0]! * 100) / 100,
    date: new Date().toISOString(),
    pinning: setup.pinning,
    mode: setup.mode,
  };
}

/** One line for humans: `AMD EPYC 7B13, 2 cores, Node v20.19.0, Linux 6.1.0 (load 0.31)`. */
export function machineLine(m: Machine): string {
  return `${m.cpu}, ${m.cores} cores, Node ${m.node}, ${m.platform === 'linux' ? 'Linux' : m.platform} ${m.kernel} (load ${m.load1}; pinning: ${m.pinning})`;
}
