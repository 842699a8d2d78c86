import { execFileSync } from 'node:child_process';
import { type Browser, chromium } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../playwright.config.ts';
import { expect, joinByUrl, peerIdOf, test, tileOf } from './fixtures.ts';

test('the one person talking takes the stage within 3 s and keeps it while talking', async ({ sfu }, testInfo) => {
  const roomId = 'e2e-speaker';
  const talk = testInfo.outputPath('talk.wav');
  const quiet = testInfo.outputPath('quiet.wav');
  // Speech-like sound: a voiced glide between 180 and 320 Hz, cut into syllables by a 4 Hz tremolo.
  execFileSync('sox', ['-n', '-r', '48000', '-c', '1', '-b', '16', talk, 'synth', '60', 'sine', '180-320', 'tremolo', '4', '90', 'vol', '0.7']);
  execFileSync('sox', ['-n', '-r', '48000', '-c', '1', '-b', '16', quiet, 'trim', '0', '60']);
  // Chromium takes one fake microphone file per browser process, so each person gets a browser.
  const launch = (file: string) =>
    chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, `--use-file-for-fake-audio-capture=${file}`] });
  const browsers: Browser[] = [await launch(quiet), await launch(quiet), await launch(talk)];
  try {
    const lena = await joinByUrl(await browsers[0]!.newContext(), sfu.url, roomId, 'Lena', { res: 180 });
    const quinn = await joinByUrl(await browsers[1]!.newContext(), sfu.url, roomId, 'Quinn', { res: 180 });
    const quinnId = await peerIdOf(quinn);
    await lena.getByTestId('layout-button').click();
    const stage = lena.getByTestId('stage').locator('[data-testid=tile]');
    await expect(stage).toHaveAttribute('data-peer-id', quinnId); // nobody talks yet: the first other person

    const tom = await joinByUrl(await browsers[2]!.newContext(), sfu.url, roomId, 'Tom', { res: 180 });
    const tomId = await peerIdOf(tom);
    await expect(tileOf(lena, tomId)).toHaveCount(1);
    const arrived = Date.now();
    await expect(stage, 'the talker takes the stage within 3 s').toHaveAttribute('data-peer-id', tomId, { timeout: 3_000 });
    testInfo.annotations.push({ type: 'stage switch', description: `${Date.now() - arrived} ms after Tom's tile appeared` });

    for (let i = 0; i < 24; i++) {
      expect(await stage.getAttribute('data-peer-id'), 'keeps the stage while talking').toBe(tomId);
      await lena.waitForTimeout(250);
    }
    await expect(tileOf(lena, tomId)).toHaveAttribute('data-speaking', 'true');
    await expect(tileOf(lena, quinnId)).toHaveAttribute('data-speaking', 'false');
    const room = sfu.server.registry.get(roomId)!;
    expect(room.speakers.activeSpeaker).toBe(tomId);
  } finally {
    await Promise.all(browsers.map((b) => b.close()));
  }
});
