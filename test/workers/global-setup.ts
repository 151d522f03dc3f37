import type { TestProject } from 'vitest/node';
import { startControlHarness } from './control-harness';
import { TEST_SECRETS } from './secrets';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The fault proxy in front of the real control server (the Worker's CONTAINER_URL). */
    proxyPort: number;
    /** The Node that runs the control server: what idle test agents are started with. */
    nodePath: string;
  }
}

/** Starts the real control server (behind the test harness's proxy) for the workers tests. */
export default async function setup(project: TestProject) {
  const harness = await startControlHarness(TEST_SECRETS.CONTAINER_CONTROL_SECRET);
  project.provide('proxyPort', harness.proxyPort);
  project.provide('nodePath', process.execPath);
  return () => harness.close();
}
