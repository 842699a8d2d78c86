import type { BrowserContext, Page } from '@playwright/test';
import { expect, framesFrom, peerIdOf, test } from './fixtures.ts';

/** Opens the invite link and joins at once; with the lobby on, this waits for a host. */
async function knock(context: BrowserContext, url: string, roomId: string, name: string): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error(`[${name}] page error:`, error.message));
  await page.goto(`${url}/room/${roomId}?name=${encodeURIComponent(name)}&join=1&res=180`);
  return page;
}

test('the lobby: a joiner waits with their preview, the host admits them without a reload, another is denied', async ({ browser, sfu }) => {
  const contexts: BrowserContext[] = [];
  const context = async () => {
    const c = await browser.newContext();
    contexts.push(c);
    return c;
  };
  try {
    // A new meeting from the home page opens its host link.
    const host = await (await context()).newPage();
    await host.goto(`${sfu.url}/`);
    await host.getByTestId('create-meeting').click();
    await expect(host).toHaveURL(/\/room\/[a-z2-9]{4}(-[a-z2-9]{4}){3}\?key=[A-Za-z0-9_-]{16,64}$/);
    const hostLink = host.url();
    const roomId = new URL(hostLink).pathname.split('/').pop()!;
    await host.goto(`${hostLink}&name=Hana&join=1&res=180`); // small camera: three encoders on two cores
    await expect(host.getByTestId('call')).toHaveAttribute('data-status', 'joined');
    const hostId = await peerIdOf(host);

    // The meeting-info dialog shows the bare invite link and the host link.
    await host.getByTestId('meeting-info-button').click();
    await expect(host.getByTestId('info-invite-link')).toHaveValue(`${sfu.url}/room/${roomId}`);
    await expect(host.getByTestId('info-host-link')).toHaveValue(hostLink);
    await host.getByTestId('meeting-info-close').click();

    // The host turns the lobby on.
    await host.getByTestId('participants-button').click();
    await expect(host.getByTestId('participant-row').getByTestId('role-badge')).toHaveText('Host');
    await host.getByTestId('toggle-lobby').check();
    await expect.poll(() => sfu.server.registry.get(roomId)!.moderation.settings.lobby).toBe(true);
    await expect(host.getByTestId('lobby-section')).toContainText('Nobody is waiting');

    // Jo knocks: a waiting screen with her own preview and name, and a badge on the host's side.
    const jo = await knock(await context(), sfu.url, roomId, 'Jo');
    await jo.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
    await expect(jo.getByTestId('lobby-waiting')).toContainText('Waiting for a host to let you in');
    await expect(jo.getByTestId('lobby-waiting-name')).toHaveText('Jo');
    await expect.poll(() => jo.locator('[data-testid=lobby-waiting] video').evaluate((v) => (v as HTMLVideoElement).videoWidth)).toBeGreaterThan(0);
    await expect(host.getByTestId('lobby-badge')).toHaveText('1');
    await expect(host.getByTestId('lobby-entry')).toHaveCount(1);
    await expect(host.getByTestId('lobby-name')).toHaveText('Jo');
    expect(sfu.server.registry.get(roomId)!.peers.size).toBe(1);

    // Past the usual 10 s request timeout, the join is still waiting, not failed.
    await jo.waitForTimeout(11_000);
    await expect(jo.getByTestId('lobby-waiting')).toBeVisible();

    await host.getByTestId('lobby-admit').click();
    await expect(jo.getByTestId('call')).toHaveAttribute('data-status', 'joined');
    expect(await jo.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    await expect(host.getByTestId('lobby-badge')).toHaveCount(0);
    const joId = await peerIdOf(jo);
    await expect.poll(() => framesFrom(host, joId, 'camera'), { timeout: 20_000 }).toBeGreaterThan(0);
    await expect.poll(() => framesFrom(jo, hostId, 'camera'), { timeout: 20_000 }).toBeGreaterThan(0);

    // Kim knocks and is denied: she is told why, and never entered.
    const kim = await knock(await context(), sfu.url, roomId, 'Kim');
    await expect(kim.getByTestId('lobby-waiting')).toBeVisible();
    await expect(host.getByTestId('lobby-badge')).toHaveText('1');
    await host.getByTestId('lobby-deny').click();
    await expect(kim.getByTestId('room-error')).toContainText('A host did not let you into this meeting');
    await expect(host.getByTestId('lobby-badge')).toHaveCount(0);
    expect(sfu.server.registry.get(roomId)!.peers.size).toBe(2);
    await expect(jo.getByTestId('tile')).toHaveCount(2);
  } finally {
    await Promise.all(contexts.map((c) => c.close()));
  }
});
