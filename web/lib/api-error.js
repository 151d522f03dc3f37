/** A failed API call, as the API tells it: `{error: {code, message}}` and the HTTP status. */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status (0 when the request did not get an answer)
   * @param {string} code the API's `error.code`
   * @param {string} message the API's `error.message`
   */
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }

  /** `code: message (status)`, as shown to the user. */
  toString() {
    return this.status ? `${this.code}: ${this.message} (${this.status})` : `${this.code}: ${this.message}`;
  }
}

/** The JSON body of a successful answer, or an ApiError built from a failed one. */
export async function readJson(res) {
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    if (res.ok) throw new ApiError(res.status, 'bad_response', 'the server answered something that is not JSON');
  }
  if (res.ok) return body;
  const error = body && typeof body === 'object' ? body.error : null;
  throw new ApiError(res.status, error?.code ?? `http_${res.status}`, error?.message ?? (res.statusText || 'request failed'));
}

/** An ApiError for a request that got no answer (network down, aborted). */
export function networkError(err) {
  return new ApiError(0, 'network', `no answer from the server (${err?.message ?? err})`);
}
