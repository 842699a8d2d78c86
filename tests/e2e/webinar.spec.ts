import type { BrowserContext, Page } from '@playwright/test';
import { expect, framesFrom, peerIdOf, startAppServer, test, tileOf } from './fixtures.ts';

async function watch(context: BrowserContext, url: string, roomId: string, key: string, name: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${url}/room/${roomId}?key=${key}&as=viewer&name=${encodeURIComponent(name)}&join=1`);
  await expect(page.getByTestId('call')).toHaveAttribute('data-status', 'joined');
  return page;
}

test('a webinar: the audience watches without devices, a raised hand is invited on stage and seen by all, then sent back', async ({ browser, sfu }) => {
  const contexts: BrowserContext[] = [];
  const context = async () => {
    const c = await browser.newContext();
    contexts.push(c);
    return c;
  };
  try {
    const host = await (await context()).newPage();
    await host.goto(`${sfu.url}/?name=Hana`);
    await host.getByTestId('create-webinar').click();
    await expect(host).toHaveURL(/\/room\/w-[a-z2-9]{16}\?key=/);
    await host.getByLabel('Your name').fill('Hana');
    await host.getByTestId('join-button').click();
    await expect(host.getByTestId('call')).toHaveAttribute('data-status', 'joined');
    const roomId = new URL(host.url()).pathname.split('/').pop()!;
    const keys = sfu.server.registry.directory.webinarKeys(roomId)!;
    const hostId = await peerIdOf(host);

    // Viewers: the audience link, no camera or microphone, no publishing controls.
    const vera = await watch(await context(), sfu.url, roomId, keys.audienceKey, 'Vera');
    const walt = await watch(await context(), sfu.url, roomId, keys.audienceKey, 'Walt');
    const [veraId, waltId] = [await peerIdOf(vera), await peerIdOf(walt)];
    for (const viewer of [vera, walt]) {
      await expect(viewer.getByTestId('mic-button')).toHaveCount(0);
      await expect(viewer.getByTestId('audience-count')).toHaveText('2 watching');
      await expect(viewer.getByTestId('tile')).toHaveCount(1); // the stage: just the host
      await expect.poll(() => framesFrom(viewer, hostId, 'camera'), { timeout: 20_000 }).toBeGreaterThan(0);
      expect((await viewer.evaluate(() => window.roundtable?.stats()))!.outbound).toEqual([]);
    }
    const room = sfu.server.registry.get(roomId)!;
    expect(room.peers.get(veraId)!.transportFor('send')).toBeUndefined();
    await expect(host.getByTestId('audience-count')).toHaveText('2 watching');

    // Vera raises her hand; the host sees her first in the audience and invites her.
    await vera.getByTestId('hand-button').click();
    await host.getByTestId('participants-button').click();
    await expect(host.getByTestId('audience-row').first()).toHaveAttribute('data-peer-id', veraId);
    await host.getByTestId('audience-row').first().getByTestId('invite-to-stage').click();
    await expect(vera.getByTestId('stage-invite')).toContainText('Hana invites you onto the stage');
    await vera.getByTestId('accept-invite').click();

    // On stage: she publishes, and the other viewer and the host decode her.
    await expect(vera.getByTestId('mic-button')).toBeVisible();
    await expect.poll(() => [...room.peers.get(veraId)!.producers.values()].map((p) => p.appData.source).sort(), { timeout: 15_000 }).toEqual(['camera', 'microphone']);
    await expect(tileOf(walt, veraId)).toHaveCount(1);
    await expect.poll(() => framesFrom(walt, veraId, 'camera'), { timeout: 20_000 }).toBeGreaterThan(0);
    await expect.poll(() => framesFrom(host, veraId, 'camera'), { timeout: 20_000 }).toBeGreaterThan(0);
    await expect(walt.getByTestId('audience-count')).toHaveText('1 watching');

    // Back to the audience: her producers close, Walt's stage drops her, her controls go.
    await host.getByTestId('move-to-audience').click();
    await expect.poll(() => room.peers.get(veraId)!.producers.size).toBe(0);
    await expect(tileOf(walt, veraId)).toHaveCount(0);
    await expect(vera.getByTestId('mic-button')).toHaveCount(0);
    await expect(walt.getByTestId('audience-count')).toHaveText('2 watching');

    // Low-bandwidth mode: Walt keeps the sound and drops the video, on the server.
    await walt.getByTestId('audio-only-button').click();
    const waltConsumers = () => [...room.peers.get(waltId)!.consumers.values()];
    await expect.poll(() => waltConsumers().filter((c) => c.kind === 'video').every((c) => c.paused)).toBe(true);
    expect(waltConsumers().filter((c) => c.kind === 'audio').every((c) => !c.paused)).toBe(true);
  } finally {
    await Promise.all(contexts.map((c) => c.close()));
  }
});

test('an audience spread over two workers all decode the speaker', async ({ browser }) => {
  const sfu = await startAppServer({ workers: { count: 2, consumerBudget: 6 } });
  const contexts: BrowserContext[] = [];
  try {
    const keys = sfu.server.registry.directory.createWebinar();
    const hostContext = await browser.newContext();
    contexts.push(hostContext);
    const host = await hostContext.newPage();
    await host.goto(`${sfu.url}/room/${keys.roomId}?key=${keys.hostKey}&name=Hana&join=1&res=180`);
    await expect(host.getByTestId('call')).toHaveAttribute('data-status', 'joined');
    const hostId = await peerIdOf(host);
    const viewers: Page[] = [];
    for (let i = 0; i < 6; i++) {
      const c = await browser.newContext();
      contexts.push(c);
      viewers.push(await watch(c, sfu.url, keys.roomId, keys.audienceKey, `V${i}`));
    }
    for (const viewer of viewers) await expect.poll(() => framesFrom(viewer, hostId, 'camera'), { timeout: 30_000 }).toBeGreaterThan(0);
    const room = sfu.server.registry.get(keys.roomId)!;
    const workers = await Promise.all(viewers.map(async (v) => room.peers.get(await peerIdOf(v))!.router.appData.workerIndex));
    expect(new Set(workers)).toEqual(new Set([0, 1]));
  } finally {
    await Promise.all(contexts.map((c) => c.close()));
    await sfu.close();
  }
});
