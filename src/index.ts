import { createApp } from './app';
import type { Env } from './env';

export { TownDirectory } from './dos/town-directory';
export { TownDO } from './dos/town-do';
export { TownContainer } from './dos/town-container';

const app = createApp();

/** The Worker entry: the Gastown HTTP API. */
export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;
