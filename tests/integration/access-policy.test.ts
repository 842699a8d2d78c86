/**
 * access.policy against a real server: who may create rooms (open, secret) and entry by signed room
 * tokens (token), with real JWTs signed by `jose` as an operator's application would.
 */
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorCode, JoinReply, Reply } from '../../shared/index.ts';
import { TestClient } from '../helpers/client.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';

const open: TestClient[] = [];
afterEach(() => {
  for (const client of open.splice(0)) client.close();
});

async function connect(t: TestServer): Promise<TestClient> {
  const client = await TestClient.connect(t.url);
  open.push(client);
  return client;
}

function codeOf(reply: Reply<unknown>): ErrorCode | 'ok' {
  return reply.ok ? 'ok' : reply.error.code;
}

async function join(t: TestServer, roomId: string, extra: { key?: string; token?: string } = {}): Promise<Reply<JoinReply>> {
  return (await connect(t)).send('join', { roomId, displayName: 'Typed Name', ...extra });
}

const CREATION_SECRET = 'a-creation-secret-of-the-operator';

describe('access.policy = secret', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ access: { policy: 'secret', creationSecret: CREATION_SECRET } });
  });
  afterAll(() => t.close());

  it('creating a meeting or a webinar needs the creation secret; a wrong one is refused the same way', async () => {
    const client = await connect(t);
    for (const request of ['createMeeting', 'createWebinar'] as const) {
      expect(codeOf(await client.send(request, {}))).toBe('CREATION_SECRET_REQUIRED');
      expect(codeOf(await client.send(request, { secret: CREATION_SECRET + 'x' }))).toBe('CREATION_SECRET_REQUIRED');
      expect(codeOf(await client.send(request, { secret: CREATION_SECRET }))).toBe('ok');
    }
  });

  it('a meeting id nobody created is ROOM_NOT_FOUND and opens nothing; a created one is joined by its links', async () => {
    expect(codeOf(await join(t, 'made-up-meeting'))).toBe('ROOM_NOT_FOUND');
    expect(t.server.registry.get('made-up-meeting')).toBeUndefined();

    const keys = await (await connect(t)).ok('createMeeting', { secret: CREATION_SECRET });
    expect(await join(t, keys.roomId, { key: keys.hostKey })).toMatchObject({ ok: true, data: { kind: 'meeting', role: 'host', meetingKeys: keys } });
    const guest = await join(t, keys.roomId);
    expect(guest).toMatchObject({ ok: true, data: { role: 'participant' } });
    expect(guest.ok && guest.data.meetingKeys).toBeUndefined(); // the host link is for hosts only
    expect(codeOf(await join(t, keys.roomId, { key: 'k'.repeat(24) }))).toBe('INVALID_LINK');
  });
});

describe('access.policy = open (the default)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.close());

  it('anyone creates rooms, a new meeting id opens a meeting, and a token is refused rather than ignored', async () => {
    expect(codeOf(await (await connect(t)).send('createMeeting', {}))).toBe('ok');
    expect(codeOf(await join(t, 'any-new-id'))).toBe('ok');
    expect(codeOf(await join(t, 'any-new-id', { token: 'aaa.bbb.ccc' }))).toBe('INVALID_TOKEN');
  });
});

const TOKEN_SECRET = 'the-operators-application-hs256-secret!';

function mint(claims: JWTPayload, options: { secret?: string; expiresIn?: string | number; alg?: string } = {}): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: options.alg ?? 'HS256' }).setIssuedAt();
  if (options.expiresIn !== undefined) jwt.setExpirationTime(options.expiresIn);
  return jwt.sign(new TextEncoder().encode(options.secret ?? TOKEN_SECRET));
}

describe('access.policy = token (HS256 shared secret)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ access: { policy: 'token', tokenSecret: TOKEN_SECRET, tokenClockToleranceSeconds: 0 } });
  });
  afterAll(() => t.close());

  it('a valid token joins with its role and name; the first one opens the room', async () => {
    const host = await join(t, 'app-room', { token: await mint({ room: 'app-room', name: 'Dr. Ada', role: 'host' }, { expiresIn: '5m' }) });
    expect(host).toMatchObject({ ok: true, data: { kind: 'meeting', role: 'host', self: { displayName: 'Dr. Ada' } } });
    const guest = await join(t, 'app-room', { token: await mint({ room: 'app-room' }, { expiresIn: '5m' }) });
    // No role: a participant; no name: the one typed by the person.
    expect(guest).toMatchObject({ ok: true, data: { role: 'participant', self: { displayName: 'Typed Name' } } });
  });

  it('a token can open a webinar: host on stage, viewers in the audience', async () => {
    const host = await join(t, 'app-webinar', { token: await mint({ room: 'app-webinar', role: 'host', kind: 'webinar' }, { expiresIn: '5m' }) });
    expect(host).toMatchObject({ ok: true, data: { kind: 'webinar', role: 'host' } });
    const viewer = await join(t, 'app-webinar', { token: await mint({ room: 'app-webinar', role: 'viewer' }, { expiresIn: '5m' }) });
    expect(viewer).toMatchObject({ ok: true, data: { kind: 'webinar', role: 'viewer' } });
  });

  it('expired, badly signed, other-room, unsigned and malformed tokens get stable codes and open nothing', async () => {
    const cases: Array<[string, Promise<string> | string, ErrorCode]> = [
      ['no token', '', 'TOKEN_REQUIRED'],
      ['expired', mint({ room: 'closed-door' }, { expiresIn: Math.floor(Date.now() / 1000) - 60 }), 'TOKEN_EXPIRED'],
      ['signed with another secret', mint({ room: 'closed-door' }, { expiresIn: '5m', secret: 'someone-elses-secret-of-32-chars!!' }), 'INVALID_TOKEN'],
      ['for another room', mint({ room: 'other-room' }, { expiresIn: '5m' }), 'TOKEN_WRONG_ROOM'],
      ['without an expiry', mint({ room: 'closed-door' }), 'INVALID_TOKEN'],
      ['without a room', mint({ name: 'x' }, { expiresIn: '5m' }), 'INVALID_TOKEN'],
      ['with an unknown role', mint({ room: 'closed-door', role: 'admin' }, { expiresIn: '5m' }), 'INVALID_TOKEN'],
      ['with a name no display name may have', mint({ room: 'closed-door', name: 'evil\u202Eeman' }, { expiresIn: '5m' }), 'INVALID_TOKEN'],
      ['unsigned (alg none)', unsigned({ room: 'closed-door', role: 'host', exp: Math.floor(Date.now() / 1000) + 300 }), 'INVALID_TOKEN'],
    ];
    for (const [what, token, code] of cases) {
      const given = await token;
      const reply = await join(t, 'closed-door', given ? { token: given } : {});
      expect(codeOf(reply), what).toBe(code);
    }
    // A signed token with its claims edited (role raised to host) no longer verifies.
    const [header, , signature] = (await mint({ room: 'closed-door', role: 'participant' }, { expiresIn: '5m' })).split('.');
    const raised = Buffer.from(JSON.stringify({ room: 'closed-door', role: 'host', exp: Math.floor(Date.now() / 1000) + 300 })).toString('base64url');
    expect(codeOf(await join(t, 'closed-door', { token: `${header}.${raised}.${signature}` }))).toBe('INVALID_TOKEN');
    expect(t.server.registry.get('closed-door')).toBeUndefined();
  });

  it('rooms are not created any other way', async () => {
    const client = await connect(t);
    expect(codeOf(await client.send('createMeeting', {}))).toBe('FORBIDDEN');
    expect(codeOf(await client.send('createWebinar', {}))).toBe('FORBIDDEN');
  });
});

function unsigned(claims: JWTPayload): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
}

describe('access.policy = token (public key)', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({
      access: { policy: 'token', tokenPublicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(), tokenIssuer: 'https://app.example' },
    });
  });
  afterAll(() => t.close());

  it('verifies ES256 tokens from the application, checks the issuer, and refuses an HMAC token made with the public key', async () => {
    const signed = (claims: JWTPayload, issuer: string) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'ES256' }).setIssuer(issuer).setExpirationTime('5m').sign(privateKey);
    expect(await join(t, 'pk-room', { token: await signed({ room: 'pk-room', role: 'host' }, 'https://app.example') })).toMatchObject({
      ok: true,
      data: { role: 'host' },
    });
    expect(codeOf(await join(t, 'pk-room', { token: await signed({ room: 'pk-room' }, 'https://elsewhere.example') }))).toBe('INVALID_TOKEN');
    // Algorithm confusion: the public key's PEM used as an HS256 secret must not verify.
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const confused = await new SignJWT({ room: 'pk-room', role: 'host' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('https://app.example')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(pem));
    expect(codeOf(await join(t, 'pk-room', { token: confused }))).toBe('INVALID_TOKEN');
  });
});
