/**
 * The ingest benchmark's agent: prints INGEST_EVENTS JSON events of INGEST_BYTES each on
 * stdout as fast as the pipe takes them, then waits for its stdin to close.
 */
const count = Number(process.env.INGEST_EVENTS ?? 1000);
const bytes = Number(process.env.INGEST_BYTES ?? 100);
const pad = 'x'.repeat(Math.max(0, bytes - 40));
let i = 0;
function write() {
  while (i < count) {
    const ok = process.stdout.write(`${JSON.stringify({ type: 'bench', i, pad })}\n`);
    i++;
    if (!ok) return process.stdout.once('drain', write);
  }
}
write();
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
