import { describe, expect, it } from 'vitest';
import { benchMcp } from '../../../scripts/bench/mcp.ts';

describe('MCP benchmark (scripts/bench/mcp.ts)', () => {
  it('measures gt_status through MCP and through the plugin client in one run, and reports p50/p99 and their ratios', async () => {
    const r = await benchMcp(20);
    expect(r.calls).toBe(20);
    for (const v of [r.direct.p50Ms, r.direct.p99Ms, r.mcp.p50Ms, r.mcp.p99Ms, r.ratioP50, r.ratioP99]) expect(v).toBeGreaterThan(0);
    expect(r.direct.p99Ms).toBeGreaterThanOrEqual(r.direct.p50Ms);
    expect(r.ratioP50).toBeCloseTo(r.mcp.p50Ms / r.direct.p50Ms);
  });
});
