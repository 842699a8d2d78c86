import { expect, framesFrom, joinByUrl, peerIdOf, test } from './fixtures.ts';

test('switching camera and microphone at runtime replaces the tracks without leaving', async ({ browser, sfu }) => {
  const roomId = 'e2e-devices';
  const [adaContext, benContext] = [await browser.newContext(), await browser.newContext()];
  const ada = await joinByUrl(adaContext, sfu.url, roomId, 'Ada', { res: 180 });
  const ben = await joinByUrl(benContext, sfu.url, roomId, 'Ben', { res: 180 });
  const adaId = await peerIdOf(ada);
  const producersBefore = [...sfu.server.registry.get(roomId)!.peers.get(adaId)!.producers.keys()].sort();
  const trackIds = () => ada.evaluate(() => [...document.querySelectorAll('[data-local=true] video')].map((v) => ((v as HTMLVideoElement).srcObject as MediaStream).getVideoTracks()[0]!.id));
  const before = await trackIds();

  await ada.getByTestId('settings-button').click();
  const cameras = ada.getByTestId('camera-select').locator('option:not([disabled])');
  await expect(cameras).not.toHaveCount(0);
  await ada.getByTestId('camera-select').selectOption(await cameras.first().getAttribute('value'));
  await ada.getByTestId('microphone-select').selectOption(await ada.getByTestId('microphone-select').locator('option:not([disabled])').first().getAttribute('value'));
  await expect.poll(trackIds).not.toEqual(before);
  // Same producers on the server (replaceTrack, no renegotiation), and Ben still decodes Ada.
  expect([...sfu.server.registry.get(roomId)!.peers.get(adaId)!.producers.keys()].sort()).toEqual(producersBefore);
  const frames = await framesFrom(ben, adaId, 'camera');
  await expect.poll(() => framesFrom(ben, adaId, 'camera'), { timeout: 15_000 }).toBeGreaterThan(frames + 10);
  await adaContext.close();
  await benContext.close();
});

test('when the browser blocks sound, one visible click turns it on', async ({ browser, sfu }) => {
  const roomId = 'e2e-autoplay';
  const adaContext = await browser.newContext();
  await joinByUrl(adaContext, sfu.url, roomId, 'Ada', { res: 180 });
  // Chromium under automation here never enforces its autoplay policy: measured headless and headful
  // with --autoplay-policy=document-user-activation-required, and navigator.userActivation reports the
  // page as already activated. So the policy is reproduced: play() of audio is refused until a
  // trusted click or key press reaches the page.
  const benContext = await browser.newContext();
  await benContext.addInitScript(() => {
    let gestured = false;
    for (const type of ['pointerdown', 'keydown']) {
      window.addEventListener(type, (event) => (gestured ||= event.isTrusted), { capture: true });
    }
    const play = HTMLMediaElement.prototype.play;
    HTMLMediaElement.prototype.play = function (this: HTMLMediaElement) {
      if (!gestured && this instanceof HTMLAudioElement) {
        return Promise.reject(new DOMException('play() needs a user gesture first', 'NotAllowedError'));
      }
      return play.call(this);
    };
  });
  const ben = await benContext.newPage();
  await ben.goto(`${sfu.url}/room/${roomId}?name=Ben&join=1&camera=0&mic=0`);
  await expect(ben.getByTestId('call')).toHaveAttribute('data-status', 'joined');
  const button = ben.getByTestId('enable-sound');
  await expect(button).toBeVisible();
  await button.click();
  await expect(button).toHaveCount(0);
  await expect.poll(() => ben.evaluate(() => [...document.querySelectorAll('audio')].map((a) => a.paused))).toEqual([false]);
  await adaContext.close();
  await benContext.close();
});
