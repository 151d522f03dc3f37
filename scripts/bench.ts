/**
 * `npm run bench`: figures and ratios measured in one run (never pass/fail): refresh at
 * scale, authentication overhead, control-server cost. Results go in BENCHMARKS.md.
 */
import { cpus, totalmem } from 'node:os';
import { benchAuthRoute, benchVerifyMicro } from './bench/auth.ts';
import { benchControlServer } from './bench/control.ts';
import { benchIngest } from './bench/ingest.ts';
import { benchMcp } from './bench/mcp.ts';
import { REFRESH_BATCH_SIZE, benchMintCpu, benchRefreshScale } from './bench/refresh-scale.ts';
import { median } from './bench/stats.ts';

const quick = process.argv.includes('--quick');
const f = (n: number, d = 1) => n.toFixed(d);
const verdict = (ok: boolean) => (ok ? 'target met' : 'target MISSED');

console.log(`Gastown benchmarks — ${new Date().toISOString()}`);
console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${f(totalmem() / 2 ** 30, 0)} GiB, Node ${process.version}\n`);

console.log('1. Refresh pass in one TownDO (wrangler dev, real workerd; the real control server holding real agent processes)');
const rows = await benchRefreshScale(quick ? [10, 100] : [10, 100, 1_000]);
console.log('   agents | mode      | subrequests | wall ms | refreshed');
for (const r of rows) console.log(`   ${String(r.agents).padStart(6)} | ${r.mode.padEnd(9)} | ${String(r.subrequests).padStart(11)} | ${f(r.wallMs, 0).padStart(7)} | ${r.refreshed}`);
const largest = Math.max(...rows.map((r) => r.agents));
const batched = rows.find((r) => r.agents === largest && r.mode === 'batched')!;
const perAgent = rows.find((r) => r.agents === largest && r.mode === 'per-agent')!;
const subRatio = perAgent.subrequests / batched.subrequests;
console.log(`   at ${largest} agents: ${f(subRatio, 0)}× fewer subrequests batched (${verdict(subRatio >= 20)}: ≥ 20×), ${f(perAgent.wallMs / batched.wallMs)}× faster wall time`);
console.log(`   batches hold ${REFRESH_BATCH_SIZE} tokens; per-agent pushes need one subrequest per agent (plus the refused batch here):`);
console.log('   a 1,000-agent per-agent pass exceeds the 50-subrequest Free limit and reaches the 1,000 Paid default per invocation.');
const mint = await benchMintCpu(quick ? 5_000 : 20_000);
console.log(`   CPU per token (Node, same jose + WebCrypto): mint ${f(mint.mintUs)} µs vs bare HMAC-SHA256 ${f(mint.hmacUs)} µs (${f(mint.mintUs / mint.hmacUs)}× the floor, ${mint.tokenBytes}-byte tokens)\n`);

console.log('2. Authentication overhead');
const micro = await benchVerifyMicro(quick ? 1_000 : 2_000);
console.log(`   verify only (Node): production path ${f(micro.productionOps, 0)}/s · cached key ${f(micro.cachedKeyOps, 0)}/s · raw secret re-imported ${f(micro.rawOps, 0)}/s`);
console.log(`     cached key vs per-call import ${f(micro.cachedKeyOps / micro.rawOps, 2)}× (${verdict(micro.cachedKeyOps / micro.rawOps >= 1.3)}: ≥ 1.3×); production path (key + verified-token cache) ${f(micro.productionOps / micro.rawOps, 1)}×`);
const { route, verifyUs, roundRatios, keyRoundRatios } = await benchAuthRoute(2, quick ? 3 : 6, 16, quick ? 4 : 8);
const keyRatio = median(keyRoundRatios);
console.log(`   verify only (workerd, 5,000 in one request, median of ${keyRoundRatios.length} rounds): production ${f(verifyUs.production, 1)} µs · cached key ${f(verifyUs['cached-key'])} µs · raw secret ${f(verifyUs.raw)} µs`);
console.log(`     cached key vs per-call import ${f(keyRatio, 2)}×, the median of the paired rounds (${verdict(keyRatio >= 1.3)}: ≥ 1.3×); production path ${f(verifyUs.raw / Math.max(0.1, verifyUs.production), 1)}×`);
console.log(`     per-round raw / cached: ${keyRoundRatios.map((r) => f(r, 2)).join(', ')}`);
const routeRatio = median(roundRatios);
console.log(`   heartbeat route (workerd, 16 in flight): verified ${f(route.verified, 0)}/s · bare ${f(route.bare, 0)}/s · raw secret ${f(route['raw-secret'], 0)}/s`);
console.log(`   verified / bare = ${f(routeRatio, 2)}, the median of the paired rounds (${verdict(routeRatio >= 0.9)}: ≥ 0.9); of the means ${f(route.verified / route.bare, 2)}; verified / raw secret = ${f(route.verified / route['raw-secret'], 2)}`);
console.log(`   per-round verified / bare: ${roundRatios.map((r) => f(r, 2)).join(', ')} (the spread is this machine's noise)\n`);

console.log('3. Control server (real process)');
const control = await benchControlServer(quick ? 200 : 1_000, quick ? 600 : 3_000, quick ? 1_000 : 10_000);
const heapRatio = control.heapAfterChurnMb / control.heapStartMb;
console.log(`   /agents/:id/refresh-token with ${control.agents} agents held: p50 ${f(control.p50Ms, 2)} ms, p99 ${f(control.p99Ms, 2)} ms over ${control.pushes} pushes`);
console.log(`   memory per held agent (control server only): ${f(control.heapPerAgentKb)} KB heap, ${f(control.rssPerAgentKb)} KB RSS`);
console.log(`   heap every 2,000 cycles: ${control.heapSamplesMb.map((m) => f(m, 2)).join(' → ')} MB`);
console.log(`   heap after ${control.churnCycles} start/stop cycles: ${f(control.heapStartMb, 2)} MB → ${f(control.heapAfterChurnMb, 2)} MB (${f((heapRatio - 1) * 100)}%, ${verdict(heapRatio <= 1.1)}: within 10%)`);

console.log('\n4. Event ingest: agent stdout → control server (journal, outbox) → Worker → TownDO SQLite');
const ingest = await benchIngest(quick ? [{ bytes: 100, events: 1_000 }, { bytes: 10_000, events: 200 }] : [{ bytes: 100, events: 5_000 }, { bytes: 10_000, events: 1_000 }]);
console.log('   event size | events | pipeline events/s | pipeline MB/s | floor events/s | floor MB/s | pipeline ÷ floor');
for (const r of ingest) {
  console.log(`   ${String(r.bytes).padStart(8)} B | ${String(r.events).padStart(6)} | ${f(r.pipelineEventsPerS, 0).padStart(17)} | ${f(r.pipelineMBPerS, 2).padStart(13)} | ${f(r.floorEventsPerS, 0).padStart(14)} | ${f(r.floorMBPerS, 2).padStart(10)} | ${f(r.pipelineEventsPerS / r.floorEventsPerS, 3)}`);
}
console.log('   the floor is the same rows inserted into a Durable Object\'s SQLite directly (the product\'s schema and insert, 100 per transaction)');

console.log('\n5. A tool call through MCP (official client over stdio → the Gastown MCP server) vs the plugin client directly');
const mcp = await benchMcp(quick ? 300 : 1_000);
console.log(`   gt_status, ${mcp.calls} calls each: direct p50 ${f(mcp.direct.p50Ms, 2)} ms, p99 ${f(mcp.direct.p99Ms, 2)} ms · through MCP p50 ${f(mcp.mcp.p50Ms, 2)} ms, p99 ${f(mcp.mcp.p99Ms, 2)} ms`);
console.log(`   MCP ÷ direct: ${f(mcp.mcp.p50Ms / mcp.direct.p50Ms, 2)}× at p50, ${f(mcp.mcp.p99Ms / mcp.direct.p99Ms, 2)}× at p99`);
