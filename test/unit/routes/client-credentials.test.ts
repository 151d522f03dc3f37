import { describe, expect, it } from 'vitest';
import { clientCredentials } from '../../../src/routes/auth.ts';

const basic = (userPass: string) => `Basic ${Buffer.from(userPass).toString('base64')}`;

describe('client credentials of the token endpoint', () => {
  it('from the body when there is no Basic header', () => {
    expect(clientCredentials(undefined, { client_id: 'c', client_secret: 's' })).toEqual([{ id: 'c', secret: 's' }]);
  });

  it('Basic credentials are tried urlencoded-decoded (RFC 6749 §2.3.1) and as sent (curl -u does not encode)', () => {
    // "a+b%2Fc" is "a b/c" to a form decoder, and itself to a client that sent it raw
    expect(clientCredentials(basic('my%20client:a+b%2Fc'), {})).toEqual([
      { id: 'my client', secret: 'a b/c' },
      { id: 'my%20client', secret: 'a+b%2Fc' },
    ]);
  });

  it('the body may repeat the header in either form; a different value is a 400', () => {
    expect(clientCredentials(basic('id:a+b'), { client_id: 'id', client_secret: 'a+b' })).toHaveLength(2);
    expect(clientCredentials(basic('id:a+b'), { client_secret: 'a b' })).toHaveLength(2);
    expect(() => clientCredentials(basic('id:a+b'), { client_secret: 'other' })).toThrow(/differ/);
  });
});
