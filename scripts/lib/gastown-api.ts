/** A small client of the Worker's user-facing API, for the local town, e2e tests and the soak. */
export class GastownApi {
  readonly baseUrl: string;
  readonly #clientId: string;
  readonly #clientSecret: string;
  #token: { value: string; expiresAt: number } | null = null;

  constructor(baseUrl: string, clientId: string, clientSecret: string) {
    this.baseUrl = baseUrl;
    this.#clientId = clientId;
    this.#clientSecret = clientSecret;
  }

  /** A user access token, renewed a minute before it expires. */
  async token(): Promise<string> {
    if (this.#token && this.#token.expiresAt - 60_000 > Date.now()) return this.#token.value;
    const res = await fetch(`${this.baseUrl}/api/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: this.#clientId, client_secret: this.#clientSecret }),
    });
    if (!res.ok) throw new Error(`auth failed: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { access_token: string; expires_in: number };
    this.#token = { value: body.access_token, expiresAt: Date.now() + body.expires_in * 1000 };
    return body.access_token;
  }

  async call<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${await this.token()}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: (text ? JSON.parse(text) : null) as T };
  }

  async ok<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    const { status, json } = await this.call<T>(method, path, body);
    if (status < 200 || status >= 300) throw new Error(`${method} ${path} → ${status} ${JSON.stringify(json)}`);
    return json;
  }

  createTown(name: string) {
    return this.ok<{ id: string; name: string }>('POST', '/api/towns', { name });
  }
  createRig(townId: string, name: string) {
    return this.ok<{ id: string; name: string }>('POST', `/api/towns/${townId}/rigs`, { name });
  }
  town(townId: string) {
    return this.ok<any>('GET', `/api/towns/${townId}`);
  }
  tellMayor(townId: string, text: string) {
    return this.ok<{ agentId: string; delivered: boolean; tokenExpiresAt: string }>('POST', `/api/towns/${townId}/mayor/messages`, { text });
  }
  dispatch(townId: string, rigId: string, role: 'polecat' | 'refinery', extra: { beadId?: string; command?: string[] } = {}) {
    return this.ok<{ id: string; role: string; status: string }>('POST', `/api/towns/${townId}/rigs/${rigId}/agents`, { role, ...extra });
  }
  stop(townId: string, agentId: string) {
    return this.ok('POST', `/api/towns/${townId}/agents/${agentId}/stop`, {});
  }
}
