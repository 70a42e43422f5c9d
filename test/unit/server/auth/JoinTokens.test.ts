import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { JoinTokens } from '../../../../server/auth/JoinTokens.js';
import { UnauthorizedError } from '../../../../server/errors.js';

const SECRET = 'a-secret-that-is-at-least-32-characters-long';

describe('JoinTokens', () => {
  const tokens = new JoinTokens(SECRET, 3600);

  it('round-trips a grant', async () => {
    const { token, expiresAt } = await tokens.issue({ room: 'r1', identity: 'alice', name: 'Alice' });
    expect(new Date(expiresAt).getTime()).toBeGreaterThan(Date.now());
    await expect(tokens.verify(token)).resolves.toEqual({ room: 'r1', identity: 'alice', name: 'Alice', roomAdmin: false });
    // A host's token says so; only a grant that asks for it does.
    const host = await tokens.issue({ room: 'r1', identity: 'hana', name: 'Hana', roomAdmin: true });
    await expect(tokens.verify(host.token)).resolves.toEqual({ room: 'r1', identity: 'hana', name: 'Hana', roomAdmin: true });
  });

  it('refuses a token signed with another secret', async () => {
    const other = new JoinTokens('another-secret-that-is-32-characters-or-more', 3600);
    const { token } = await other.issue({ room: 'r1', identity: 'mallory', name: 'M' });
    await expect(tokens.verify(token)).rejects.toThrow(UnauthorizedError);
  });

  it('refuses an expired token', async () => {
    const { token } = await tokens.issue({ room: 'r1', identity: 'alice', name: 'A' }, -60);
    await expect(tokens.verify(token)).rejects.toThrow(/expired/);
  });

  it('refuses a tampered payload', async () => {
    const { token } = await tokens.issue({ room: 'r1', identity: 'alice', name: 'A' });
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    claims.room = 'other-room';
    const forged = [header, Buffer.from(JSON.stringify(claims)).toString('base64url'), signature].join('.');
    await expect(tokens.verify(forged)).rejects.toThrow(UnauthorizedError);
  });

  it('refuses garbage and a token for another audience or algorithm', async () => {
    await expect(tokens.verify('not-a-jwt')).rejects.toThrow(UnauthorizedError);
    const key = new TextEncoder().encode(SECRET);
    const foreign = await new SignJWT({ room: 'r1' }).setProtectedHeader({ alg: 'HS256' }).setSubject('x')
      .setIssuer('conflux').setAudience('someone-else').setExpirationTime('1h').sign(key);
    await expect(tokens.verify(foreign)).rejects.toThrow(UnauthorizedError);
    const noRoom = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('x')
      .setIssuer('conflux').setAudience('conflux-room').setExpirationTime('1h').sign(key);
    await expect(tokens.verify(noRoom)).rejects.toThrow(/room/);
  });

  it('refuses a correctly signed token that never expires', async () => {
    const key = new TextEncoder().encode(SECRET);
    const forever = await new SignJWT({ room: 'r1', name: 'A' }).setProtectedHeader({ alg: 'HS256' }).setSubject('alice')
      .setIssuer('conflux').setAudience('conflux-room').setIssuedAt().sign(key);
    await expect(tokens.verify(forever)).rejects.toThrow(UnauthorizedError);
  });

  it('will not run with a short secret', () => {
    expect(() => new JoinTokens('short', 60)).toThrow();
  });
});
