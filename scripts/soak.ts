/**
 * `npm run soak -- --agents 50 --minutes 10 --ttl 20 --faults`: a local town under load
 * and injected faults; prints what failed and why. Exit code 1 when the goal is missed
 * (a request failed for an expired token, or an event was lost).
 */
import { parseArgs } from 'node:util';
import { formatSoakReport, runSoak } from './lib/soak-runner.ts';

const { values } = parseArgs({
  options: {
    agents: { type: 'string', default: '50' },
    minutes: { type: 'string', default: '10' },
    ttl: { type: 'string', default: '20' },
    faults: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const report = await runSoak({
  agents: Number(values.agents),
  minutes: Number(values.minutes),
  ttl: Number(values.ttl),
  faults: values.faults,
  log: (line) => console.log(`[soak] ${line}`),
});
console.log(values.json ? JSON.stringify(report, null, 2) : formatSoakReport(report));
process.exit(report.failures.expired401 === 0 && report.events.lost === 0 ? 0 : 1);
