/** Types of `env` and `exports` from cloudflare:workers inside the workers tests. */
declare namespace Cloudflare {
  interface Env {
    TOWN: DurableObjectNamespace<import('../../src/dos/town-do').TownDO>;
  }
  interface GlobalProps {
    mainModule: typeof import('../../src/index');
    durableNamespaces: 'TownDO' | 'TownContainer';
  }
}
