/** Types of coverage.js. */
export interface TokenWindow {
  gen: number;
  kind: string;
  from: number;
  to: number;
}
export interface Span {
  from: number;
  to: number;
}
export interface AgentCoverage {
  windows: TokenWindow[];
  from: number;
  until: number;
  gaps: Span[];
  counts: { start: number; refresh: number; remint: number };
}
export declare const LIVE_STATUSES: Set<string>;
export declare function tokenCoverage(
  tokens: Array<{ agentId: string; gen: number; kind: string; issuedAt: string; expiresAt: string }>,
  agents: Array<{ id: string; status: string; endedAt?: string | null }>,
  now: number,
): Map<string, AgentCoverage>;
export declare function gapsOf(windows: TokenWindow[], until: number): Span[];
export declare function gapTotal(gaps: Span[]): number;
