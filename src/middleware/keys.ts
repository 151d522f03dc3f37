import { readConfig } from '../domain/config';
import { keyRing, type KeyRing } from '../domain/signing-keys';
import type { Env } from '../env';

/** The key ring of an env (keys are imported once per isolate). */
export function envKeys(env: Env): Promise<KeyRing> {
  const config = readConfig(env);
  return keyRing(config.jwtSecret, config.jwtSecretPrevious);
}
