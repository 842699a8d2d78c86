import type { BrowserContext, Page } from '@playwright/test';
import { SignJWT } from 'jose';
import { expect, hostAction, joinByUrl, peerIdOf, startAppServer, test, tileOf } from './fixtures.ts';

/**
 * Host control in one meeting, 320x180 cameras: Hana holds the host link, Ben and Cai the invite link.
 * Steps run in order on the same meeting, the way a host uses them.
 */
test.describe.serial('host control in a meeting', () => {
  let contexts: BrowserContext[] = [];
  let roomId = '';
  let hana: Page, ben: Page, cai: Page;
  const id: Record<string, string> = {};

  test.beforeAll(async ({ browser, sfu }) => {
    const keys = sfu.server.registry.directory.createMeeting();
    roomId = keys.roomId;
    contexts = await Promise.all([0, 1, 2].map(() => browser.newContext()));
    hana = await joinByUrl(contexts[0]!, sfu.url, roomId, 'Hana', { res: 180, key: keys.hostKey });
    ben = await joinByUrl(contexts[1]!, sfu.url, roomId, 'Ben', { res: 180 });
    cai = await joinByUrl(contexts[2]!, sfu.url, roomId, 'Cai', { res: 180 });
    for (const [name, page] of Object.entries({ hana, ben, cai })) id[name] = await peerIdOf(page);
    for (const page of [hana, ben, cai]) await expect(page.getByTestId('tile')).toHaveCount(3);
  });

  test.afterAll(async () => {
    await Promise.all(contexts.map((c) => c.close()));
  });

  const benMic = (sfu: { server: { registry: { get(id: string): unknown } } }) => {
    const room = sfu.server.registry.get(roomId) as { peers: Map<string, { producerFor(source: string): { paused: boolean } | undefined }> };
    return room.peers.get(id.ben!)!.producerFor('microphone')!;
  };

  test('only moderators get host actions; participants see the host badge', async () => {
    await ben.getByTestId('participants-button').click();
    await expect(ben.locator(`[data-testid=participant-row][data-peer-id="${id.hana}"]`).getByTestId('role-badge')).toHaveText('Host');
    await expect(ben.getByTestId('host-menu')).toHaveCount(0);
    await expect(ben.getByTestId('moderator-tools')).toHaveCount(0);
    await ben.getByTestId('participants-button').click();
  });

  test('a host mute shows Ben muted everywhere, his own mic button too, and only he unmutes', async ({ sfu }) => {
    await expect(tileOf(hana, id.ben!)).toHaveAttribute('data-mic-muted', 'false');
    await hostAction(hana, id.ben!, 'host-mute');
    await expect.poll(() => benMic(sfu).paused).toBe(true);
    for (const page of [hana, cai, ben]) await expect(tileOf(page, id.ben!)).toHaveAttribute('data-mic-muted', 'true');
    await expect(ben.getByTestId('mic-button')).toHaveAttribute('aria-pressed', 'true');
    await expect(ben.getByTestId('mic-button')).toContainText('Unmute');
    await expect(ben.getByTestId('moderation-notice')).toContainText('The host muted you (Hana)');
    // Ben's own producer is paused in his browser, not only on the server: no audio leaves it.
    const micBytesSent = () =>
      ben.evaluate(async () => (await window.roundtable!.stats())!.outbound.filter((s) => s.source === 'microphone').reduce((n, s) => n + s.bytesSent, 0));
    const sentWhileMuted = await micBytesSent();
    await ben.waitForTimeout(1_500);
    expect(await micBytesSent()).toBe(sentWhileMuted);

    await ben.getByTestId('mic-button').click();
    await expect.poll(() => benMic(sfu).paused).toBe(false);
    for (const page of [hana, cai, ben]) await expect(tileOf(page, id.ben!)).toHaveAttribute('data-mic-muted', 'false');
    await expect.poll(micBytesSent).toBeGreaterThan(sentWhileMuted);
  });

  test('mute all spares the host; asking to unmute prompts the person, who accepts', async ({ sfu }) => {
    await hana.getByTestId('mute-all').click();
    for (const peer of [id.ben!, id.cai!]) await expect(tileOf(hana, peer)).toHaveAttribute('data-mic-muted', 'true');
    await expect(tileOf(ben, id.hana!)).toHaveAttribute('data-mic-muted', 'false');
    await expect(cai.getByTestId('mic-button')).toContainText('Unmute');

    await hostAction(hana, id.ben!, 'host-ask-unmute');
    await expect(ben.getByTestId('unmute-request')).toContainText('Hana asks you to unmute');
    await ben.getByTestId('unmute-accept').click();
    await expect(ben.getByTestId('unmute-request')).toHaveCount(0);
    await expect.poll(() => benMic(sfu).paused).toBe(false);
    await expect(tileOf(cai, id.ben!)).toHaveAttribute('data-mic-muted', 'false');
    await cai.getByTestId('mic-button').click();
    await expect(tileOf(hana, id.cai!)).toHaveAttribute('data-mic-muted', 'false');
  });

  test('the host turns Cai\'s camera off and makes her co-host; she then has host tools', async () => {
    await hostAction(hana, id.cai!, 'host-camera-off');
    for (const page of [hana, ben, cai]) await expect(tileOf(page, id.cai!)).toHaveAttribute('data-camera-off', 'true');
    await expect(cai.getByTestId('camera-button')).toContainText('Start video');
    await expect(cai.getByTestId('moderation-notice')).toContainText('turned off your camera');

    await hostAction(hana, id.cai!, 'host-make-cohost');
    await ben.getByTestId('participants-button').click();
    await expect(ben.locator(`[data-testid=participant-row][data-peer-id="${id.cai}"]`).getByTestId('role-badge')).toHaveText('Co-host');
    await ben.getByTestId('participants-button').click();
    await cai.getByTestId('participants-button').click();
    await expect(cai.getByTestId('moderator-tools')).toBeVisible();
    // A co-host cannot act against the host.
    await expect(cai.locator(`[data-testid=participant-row][data-peer-id="${id.hana}"]`).getByTestId('host-menu')).toHaveCount(0);
    await cai.getByTestId('participants-button').click();
  });

  test('a removed person is told so, leaves everyone\'s grid, and a reload is refused', async ({ sfu }) => {
    await hostAction(hana, id.ben!, 'host-remove');
    await hana.locator(`[data-testid=participant-row][data-peer-id="${id.ben}"]`).getByTestId('host-remove-confirm').click();
    await expect(ben.getByTestId('room-closed')).toHaveAttribute('data-reason', 'removed');
    await expect(ben.getByTestId('room-error')).toContainText('You were removed from this meeting');
    for (const page of [hana, cai]) {
      await expect(tileOf(page, id.ben!)).toHaveCount(0);
      await expect(page.getByTestId('tile')).toHaveCount(2);
    }
    // The removed page stays out: no rejoin by itself.
    await ben.waitForTimeout(1_000);
    expect(sfu.server.registry.get(roomId)!.peers.has(id.ben!)).toBe(false);

    // Reloading (same identity in this browser) is refused with REMOVED.
    await ben.reload();
    await expect(ben.getByTestId('room-error')).toContainText('You were removed from this meeting and cannot rejoin it');
    expect(sfu.server.registry.get(roomId)!.peers.size).toBe(2);
  });
});

test('an operator\'s room token in the link lets a person in as host; a missing or expired one is refused in words', async ({ browser }) => {
  const tokenSecret = 'e2e-token-secret-that-is-at-least-32-chars';
  const sfu = await startAppServer({ access: { policy: 'token', tokenSecret } });
  const context = await browser.newContext();
  try {
    const roomId = 'e2e-token-room';
    const mint = (claims: Record<string, unknown>, exp: number) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(exp).sign(new TextEncoder().encode(tokenSecret));
    const now = Math.floor(Date.now() / 1000);
    const page = await context.newPage();
    await page.goto(`${sfu.url}/room/${roomId}?name=Whoever&join=1&res=180&token=${await mint({ room: roomId, name: 'Tia', role: 'host' }, now + 600)}`);
    await expect(page.getByTestId('call')).toHaveAttribute('data-status', 'joined');
    await expect(page.getByTestId('tile-name')).toHaveText('Tia (you)');
    await page.getByTestId('participants-button').click();
    await expect(page.getByTestId('role-badge')).toHaveText('Host');
    await expect(page.getByTestId('moderator-tools')).toBeVisible();

    const other = await (await browser.newContext()).newPage();
    await other.goto(`${sfu.url}/room/${roomId}?name=Ned&join=1&res=180`);
    await expect(other.getByTestId('room-error')).toContainText('only through its own application');
    await other.goto(`${sfu.url}/room/${roomId}?name=Ned&join=1&res=180&token=${await mint({ room: roomId }, now - 3600)}`);
    await expect(other.getByTestId('room-error')).toContainText('Your meeting link has expired');
    await other.context().close();
  } finally {
    await context.close();
    await sfu.close();
  }
});

test('creating a meeting on a server with a creation secret asks for it, then opens the host link', async ({ browser }) => {
  const creationSecret = 'e2e-creation-secret-42';
  const sfu = await startAppServer({ access: { policy: 'secret', creationSecret } });
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${sfu.url}/`);
    await page.getByTestId('create-meeting').click();
    await expect(page.getByTestId('create-error')).toContainText('needs its creation secret');
    await page.getByTestId('creation-secret').fill('not the secret');
    await page.getByTestId('create-meeting').click();
    await expect(page.getByTestId('create-error')).toContainText('not right');
    await page.getByTestId('creation-secret').fill(creationSecret);
    await page.getByTestId('create-meeting').click();
    await expect(page).toHaveURL(/\/room\/[a-z2-9]{4}(-[a-z2-9]{4}){3}\?key=[A-Za-z0-9_-]{16,64}$/);
    // A typed-in id that nobody created is refused on this server.
    await page.goto(`${sfu.url}/room/e2e-never-created?name=Sam&join=1&res=180`);
    await expect(page.getByTestId('room-error')).toContainText('There is no such meeting on this server');
  } finally {
    await context.close();
    await sfu.close();
  }
});
