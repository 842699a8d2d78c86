import type { BrowserContext, Page } from '@playwright/test';
import { expect, framesFrom, joinByUrl, peerIdOf, test, tileOf } from './fixtures.ts';

/**
 * Four people in one room, 320x180 cameras so four encoders fit on two cores. Steps run in order on
 * the same meeting, the way people use it.
 */
test.describe.serial('a four-person meeting', () => {
  const roomId = 'e2e-experience';
  let contexts: BrowserContext[] = [];
  let ada: Page, ben: Page, cai: Page, dee: Page;
  const id: Record<string, string> = {};

  test.beforeAll(async ({ browser, sfu }) => {
    contexts = await Promise.all([0, 1, 2, 3].map(() => browser.newContext()));
    [ada, ben, cai, dee] = [
      await joinByUrl(contexts[0]!, sfu.url, roomId, 'Ada', { res: 180 }),
      await joinByUrl(contexts[1]!, sfu.url, roomId, 'Ben', { res: 180 }),
      await joinByUrl(contexts[2]!, sfu.url, roomId, 'Cai', { res: 180 }),
      await joinByUrl(contexts[3]!, sfu.url, roomId, 'Dee', { res: 180 }),
    ];
    for (const [name, page] of Object.entries({ ada, ben, cai, dee })) id[name] = await peerIdOf(page);
    for (const page of [ada, ben, cai, dee]) await expect(page.getByTestId('tile')).toHaveCount(4);
  });

  test.afterAll(async () => {
    await Promise.all(contexts.map((c) => c.close()));
  });

  test('switching Ada to speaker view changes only her layout, without renegotiation', async ({ sfu }) => {
    const room = sfu.server.registry.get(roomId)!;
    const consumersBefore = [...room.peers.get(id.ada!)!.consumers.keys()].sort();
    await ada.getByTestId('layout-button').click();
    await expect(ada.getByTestId('call')).toHaveAttribute('data-layout', 'speaker');
    await expect(ada.getByTestId('stage').getByTestId('tile')).toHaveCount(1);
    await expect(ada.getByTestId('filmstrip').getByTestId('tile')).toHaveCount(3);
    for (const page of [ben, cai, dee]) await expect(page.getByTestId('call')).toHaveAttribute('data-layout', 'grid');
    // Same consumers on the server: a layout is a local view, not a new subscription.
    expect([...room.peers.get(id.ada!)!.consumers.keys()].sort()).toEqual(consumersBefore);
  });

  test('Ben muting his mic pauses his producer on the server and shows him muted to everyone', async ({ sfu }) => {
    await ben.getByTestId('mic-button').click();
    const producer = [...sfu.server.registry.get(roomId)!.peers.get(id.ben!)!.producers.values()].find((p) => p.kind === 'audio')!;
    await expect.poll(() => producer.paused).toBe(true);
    for (const page of [cai, dee]) await expect(tileOf(page, id.ben!)).toHaveAttribute('data-mic-muted', 'true');
    await expect(tileOf(ada, id.ben!).getByTestId('muted-icon')).toBeVisible();

    await ben.getByTestId('mic-button').click();
    await expect.poll(() => producer.paused).toBe(false);
    await expect(tileOf(cai, id.ben!)).toHaveAttribute('data-mic-muted', 'false');
  });

  test('Dee turning her camera off pauses her video and leaves an initials tile; on again, video returns', async ({ sfu }) => {
    await dee.getByTestId('camera-button').click();
    const video = [...sfu.server.registry.get(roomId)!.peers.get(id.dee!)!.producers.values()].find((p) => p.kind === 'video')!;
    await expect.poll(() => video.paused).toBe(true);
    await expect(tileOf(ben, id.dee!)).toHaveAttribute('data-camera-off', 'true');
    await expect(tileOf(ben, id.dee!).locator('.avatar')).toHaveText('D');

    await dee.getByTestId('camera-button').click();
    await expect.poll(() => video.paused).toBe(false);
    await expect(tileOf(ben, id.dee!)).toHaveAttribute('data-camera-off', 'false');
    const before = await framesFrom(ben, id.dee!, 'camera');
    await expect.poll(() => framesFrom(ben, id.dee!, 'camera'), { timeout: 15_000 }).toBeGreaterThan(before + 10);
  });

  test('Cai raising a hand is seen by all, and raised hands lead the participants list', async () => {
    await cai.getByTestId('hand-button').click();
    for (const page of [ada, ben, dee]) await expect(tileOf(page, id.cai!).getByTestId('hand-icon')).toBeVisible();
    await ben.getByTestId('participants-button').click();
    await expect(ben.getByTestId('participant-row').first()).toHaveAttribute('data-peer-id', id.cai!);
    await expect(ben.getByTestId('participants-count')).toHaveText('(4)');
    await cai.getByTestId('hand-button').click();
    await expect(tileOf(ada, id.cai!).getByTestId('hand-icon')).toHaveCount(0);
    await ben.getByTestId('participants-button').click();
  });

  test('Cai sharing the screen adds a tile that decodes, takes Ada\'s stage, and pinning overrides it', async () => {
    await cai.getByTestId('screen-button').click();
    for (const page of [ben, dee]) {
      await expect(tileOf(page, id.cai!, 'screen')).toBeVisible();
      await expect(page.getByTestId('tile')).toHaveCount(5);
    }
    await expect.poll(() => framesFrom(ben, id.cai!, 'screen'), { timeout: 20_000 }).toBeGreaterThan(0);
    // Ada is in speaker view: the share takes the stage by itself.
    await expect(ada.getByTestId('stage').locator('[data-testid=tile]')).toHaveAttribute('data-source', 'screen');
    // Pinning Dee puts her on the stage; unpinning goes back to the share.
    await tileOf(ada, id.dee!).getByTestId('pin-button').click();
    await expect(ada.getByTestId('stage').locator('[data-testid=tile]')).toHaveAttribute('data-peer-id', id.dee!);
    await ada.getByTestId('stage').getByTestId('pin-button').click();
    await expect(ada.getByTestId('stage').locator('[data-testid=tile]')).toHaveAttribute('data-source', 'screen');

    await cai.getByTestId('screen-button').click();
    await expect(tileOf(ben, id.cai!, 'screen')).toHaveCount(0);
    await expect(ben.getByTestId('tile')).toHaveCount(4);
  });

  test('chat reaches everyone as text, counts unread while closed, and is replayed to a late joiner', async ({ browser, sfu }) => {
    await ada.getByTestId('chat-button').click();
    await ada.getByTestId('chat-input').fill('<img src=x onerror="document.title=1"> hello all');
    await ada.getByTestId('chat-send').click();
    await ada.getByTestId('chat-input').fill('second');
    await ada.getByTestId('chat-input').press('Enter');
    await expect(ben.getByTestId('unread-badge')).toHaveText('2');
    await ben.getByTestId('chat-button').click();
    await expect(ben.getByTestId('unread-badge')).toHaveCount(0);
    const first = ben.getByTestId('chat-message').first();
    await expect(first).toContainText('Ada');
    await expect(first.locator('.text')).toHaveText('<img src=x onerror="document.title=1"> hello all');
    await expect(first.locator('img')).toHaveCount(0);
    await expect(first.locator('time')).toHaveText(/\d/);

    const late = await browser.newContext();
    const eve = await joinByUrl(late, sfu.url, roomId, 'Eve', { res: 180 });
    await eve.getByTestId('chat-button').click();
    await expect(eve.getByTestId('chat-message')).toHaveCount(2);
    await expect(eve.getByTestId('chat-message').last()).toContainText('second');
    await late.close();
    await expect(ada.getByTestId('tile')).toHaveCount(4);
  });
});
