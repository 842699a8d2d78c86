import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../helpers/entry-point.ts';
import { expect, framesFrom, joinByUrl, peerIdOf, startAppProcess, test } from './fixtures.ts';

test('the server process restarts on the same port: pages show Reconnecting…, rejoin, and decode video again without a reload', async ({ browser }) => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'roundtable-e2e-restart-'));
  const port = await freePort();
  let server = startAppProcess(dataDir, port);
  try {
    const url = await server.ready;
    const roomId = 'e2e-restart';
    const [adaContext, benContext] = [await browser.newContext(), await browser.newContext()];
    const ada = await joinByUrl(adaContext, url, roomId, 'Ada', { res: 180 });
    const ben = await joinByUrl(benContext, url, roomId, 'Ben', { res: 180 });
    await expect.poll(async () => framesFrom(ben, await peerIdOf(ada), 'camera'), { timeout: 20_000 }).toBeGreaterThan(0);
    await ada.evaluate(() => ((window as unknown as { beforeRestart: boolean }).beforeRestart = true)); // gone if the page reloads

    expect(await server.stop()).toBe(0);
    for (const page of [ada, ben]) {
      await expect(page.getByTestId('reconnecting')).toContainText('The server is restarting. Reconnecting…');
      await expect(page.getByTestId('call')).toHaveAttribute('data-status', 'reconnecting');
    }
    await ada.waitForTimeout(1_500); // the server stays away a moment; the pages keep waiting

    const stoppedAt = Date.now();
    server = startAppProcess(dataDir, port);
    expect(await server.ready).toBe(url);
    for (const page of [ada, ben]) {
      await expect(page.getByTestId('reconnecting')).toHaveCount(0, { timeout: 30_000 });
      await expect(page.getByTestId('call')).toHaveAttribute('data-status', 'joined');
    }
    const [adaId, benId] = [await peerIdOf(ada), await peerIdOf(ben)];
    await expect.poll(() => framesFrom(ben, adaId, 'camera'), { timeout: 20_000 }).toBeGreaterThan(10);
    await expect.poll(() => framesFrom(ada, benId, 'camera'), { timeout: 20_000 }).toBeGreaterThan(10);
    console.log(`video decoded again ${Date.now() - stoppedAt} ms after the new process was started`);
    expect(await ada.evaluate(() => (window as unknown as { beforeRestart?: boolean }).beforeRestart)).toBe(true);
    await adaContext.close();
    await benContext.close();
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
