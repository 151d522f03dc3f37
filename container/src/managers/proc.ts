import { readdirSync, readFileSync } from 'node:fs';

/** Fields of `/proc/<pid>/stat` after the command name (which may hold spaces and parentheses). */
function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** A process's start time (field 22 of `/proc/<pid>/stat`, clock ticks since boot); null when it is gone. */
export function processStartTime(pid: number): string | null {
  // fields[0] is field 3 (state): field 22 is fields[19]
  return statFields(pid)?.[19] ?? null;
}

function realUid(pid: number): number | null {
  try {
    const m = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Which processes to find: every field given must match. */
export interface ProcessMatch {
  /** Members of this process group. */
  pgid?: number;
  /** Members of this session. */
  sid?: number;
  /** Processes of this real uid. */
  uid?: number;
  /** Started at this time (clock ticks since boot, as `processStartTime`) or later. */
  startedSince?: number;
}

/** Pids of the running (not zombie) processes matching every field given. */
export function findProcesses(match: ProcessMatch): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const found: number[] = [];
  for (const name of entries) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const fields = statFields(pid);
    if (!fields || fields[0] === 'Z' || fields[0] === 'X') continue;
    // fields[2] is field 5 (pgrp), fields[3] field 6 (session), fields[19] field 22 (starttime)
    if (match.pgid !== undefined && Number(fields[2]) !== match.pgid) continue;
    if (match.sid !== undefined && Number(fields[3]) !== match.sid) continue;
    if (match.startedSince !== undefined && !(Number(fields[19]) >= match.startedSince)) continue;
    if (match.uid !== undefined && realUid(pid) !== match.uid) continue;
    found.push(pid);
  }
  return found;
}

/** This server's own process group: never signalled. */
const OWN_PGID = Number(statFields(process.pid)?.[2] ?? -1);

/** Uids of every running process. */
export function busyUids(): Set<number> {
  const uids = new Set<number>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return uids;
  }
  for (const name of entries) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const uid = realUid(pid);
    if (uid !== null) uids.add(uid);
  }
  return uids;
}

/** Sends `signal` to a process group (null: none), and each pid given; what is gone already is skipped. */
export function signalAll(pgid: number | null, pids: readonly number[], signal: NodeJS.Signals): void {
  // a pgid of 0 or less would signal this server's own group
  const targets = pgid !== null && pgid > 1 && pgid !== OWN_PGID ? [-pgid, ...pids] : pids;
  for (const target of targets) {
    if (target === 0 || target === process.pid) continue;
    try {
      process.kill(target, signal);
    } catch {
      // gone already
    }
  }
}
