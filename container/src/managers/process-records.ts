import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-file.ts';
import { findProcesses, processStartTime, signalAll } from './proc.ts';

/** What is recorded of a running agent process, so a restarted server can end it. */
export interface ProcessRecord {
  agentId: string;
  pid: number;
  /** Field 22 of `/proc/<pid>/stat`: tells the same process from a later one that reuses its pid. */
  startTime: string;
  pgid: number;
  /** The agent's own uid, when agents are isolated. */
  uid: number | null;
}

/**
 * `processes/<agentId>.json` (root-only 0700 directory, files written atomically): one
 * record per running agent, removed once its processes are gone. A control server that
 * was killed leaves records behind; the next one ends those agents at boot (the TownDO
 * starts them again), so no agent ever runs twice.
 */
export class ProcessRecords {
  readonly #dir: string;

  constructor(stateDir: string) {
    this.#dir = join(stateDir, 'processes');
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
  }

  #path(agentId: string): string {
    return join(this.#dir, `${encodeURIComponent(agentId)}.json`);
  }

  write(record: ProcessRecord): void {
    writeFileAtomic(this.#path(record.agentId), JSON.stringify(record), 0o600);
  }

  remove(agentId: string): void {
    rmSync(this.#path(agentId), { force: true });
  }

  /**
   * Ends what a previous control server left running: SIGKILL to each recorded process
   * group whose leader still has the recorded start time. A leader pid held by a process
   * with another start time means the group is gone (the kernel reuses no pid a group or
   * session still holds): left alone. Where the leader is gone, its group's members are
   * killed: processes of the recorded group and session (the agent was a session leader)
   * started no earlier than the leader, and under the agent's uid when it had one. Every
   * record is removed. Returns how many leftover agents were ended.
   */
  reapLeftovers(): number {
    let ended = 0;
    for (const name of readdirSync(this.#dir)) {
      const path = join(this.#dir, name);
      const record = readRecord(path);
      rmSync(path, { force: true });
      if (!record) continue;
      const leaderStart = processStartTime(record.pid);
      const leaderMatches = leaderStart === record.startTime;
      if (leaderStart !== null && !leaderMatches) continue;
      const startedSince = Number(record.startTime);
      const members = leaderMatches || !record.startTime || !Number.isFinite(startedSince)
        ? []
        : findProcesses({ pgid: record.pgid, sid: record.pgid, startedSince, ...(record.uid !== null ? { uid: record.uid } : {}) });
      if (!leaderMatches && members.length === 0) continue;
      signalAll(leaderMatches ? record.pgid : null, members, 'SIGKILL');
      ended++;
      console.warn(JSON.stringify({ msg: 'ended an agent a previous control server left running', agentId: record.agentId, pid: record.pid, ...(leaderMatches ? {} : { membersOfEndedLeader: members.length }) }));
    }
    return ended;
  }
}

function readRecord(path: string): ProcessRecord | null {
  try {
    const r = JSON.parse(readFileSync(path, 'utf8')) as ProcessRecord;
    const ok = typeof r.agentId === 'string' && Number.isInteger(r.pid) && r.pid > 0 && Number.isInteger(r.pgid) && r.pgid > 0 && typeof r.startTime === 'string';
    return ok ? { ...r, uid: Number.isInteger(r.uid) ? r.uid : null } : null;
  } catch {
    return null;
  }
}
