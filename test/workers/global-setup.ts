import type { TestProject } from 'vitest/node';
import { TEST_SECRETS } from './secrets';
import { startStandIn } from './stand-in-server';

declare module 'vitest' {
  export interface ProvidedContext {
    standInPort: number;
  }
}

/** Starts the stand-in control server for the workers tests and hands its port over. */
export default async function setup(project: TestProject) {
  const standIn = await startStandIn(TEST_SECRETS.CONTAINER_CONTROL_SECRET);
  project.provide('standInPort', standIn.port);
  return () => standIn.close();
}
