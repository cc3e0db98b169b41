/**
 * The load a module reports with each heartbeat, from its media stats: counts
 * as they are now, rates (CPU, bitrates) averaged since the previous sample.
 */
import type { ModuleMediaStats } from '../media/media-server';
import type { ModuleLoadReport } from './zcp-registrar';

/** Returns a function that samples the module's load; each call averages rates since the previous call. */
export function loadSampler(stats: () => ModuleMediaStats, now: () => number = Date.now): () => ModuleLoadReport {
  let last = { at: now(), cpu: process.cpuUsage(), bytesIn: 0, bytesOut: 0 };
  return () => {
    const s = stats();
    const at = now();
    const cpu = process.cpuUsage();
    const elapsedMs = Math.max(at - last.at, 1);
    const cpuMicros = cpu.user - last.cpu.user + (cpu.system - last.cpu.system);
    const kbps = (bytes: number) => Math.max(0, Math.round((bytes * 8) / elapsedMs));
    const report: ModuleLoadReport = {
      participants: s.participants,
      meetings: s.meetings,
      usedUnits: s.usedUnits,
      cpuPercent: Math.max(0, Math.round((cpuMicros / 10 / elapsedMs) * 10) / 10),
      egressKbps: kbps(s.bytesOut - last.bytesOut),
      ingressKbps: kbps(s.bytesIn - last.bytesIn),
    };
    last = { at, cpu, bytesIn: s.bytesIn, bytesOut: s.bytesOut };
    return report;
  };
}
