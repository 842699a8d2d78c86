/**
 * One two-person meeting for the bad-network benchmark: the real server in its own network namespace
 * (tests/helpers/netns.ts, netns-server.ts), a publisher page and a receiver page in one Chromium on
 * the host, and a sampler that reads both pages' RTCPeerConnection stats at a fixed interval.
 *
 * The app's own `window.roundtable.stats()` has no freeze, NACK or audio-concealment counters, so the
 * pages' peer connections are recorded (tests/helpers/ice.ts) and their getStats() read directly.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from '@playwright/test';
import { launchChromium } from '../helpers/firefox.ts';
import { recordPeerConnections } from '../helpers/ice.ts';
import { type Netns, createNetns } from '../helpers/netns.ts';
import { type NetnsServer, startServerInNetns } from '../helpers/netns-server.ts';
import { ToolError, sleep } from './cli.ts';
import type { Cleanup } from './cleanup.ts';

/** One inbound-rtp report, reduced to what the report uses. Counters are cumulative. */
export interface InboundRtp {
  ssrc: number;
  kind: string;
  /** Stats timestamp, epoch ms. */
  ts: number;
  bytesReceived: number;
  packetsReceived: number;
  packetsLost: number;
  framesDecoded: number;
  frameWidth: number;
  nackCount: number;
  pliCount: number;
  /** Whether the browser reports freezeCount (Chromium does); without it only the stalls tell. */
  hasFreezeCount: boolean;
  freezeCount: number;
  totalFreezesDuration: number;
  concealedSamples: number;
  silentConcealedSamples: number;
  totalSamplesReceived: number;
  fecPacketsReceived: number;
}

export interface OutboundRtp {
  ssrc: number;
  kind: string;
  rid: string;
  ts: number;
  bytesSent: number;
  retransmittedPacketsSent: number;
  nackCount: number;
  pliCount: number;
  frameWidth: number;
  framesEncoded: number;
  qualityLimitationReason: string;
  /** qualityLimitationDurations, seconds, cumulative. */
  limitedByBandwidth: number;
  limitedByCpu: number;
}

export interface RemoteInboundRtp {
  ssrc: number;
  kind: string;
  /** What the server reported receiving of this stream in its last receiver report (0..1). */
  fractionLost: number;
}

export interface StatsSample {
  /** Epoch ms of the stats (the page's clock is the machine's clock). */
  at: number;
  inbound: InboundRtp[];
  outbound: OutboundRtp[];
  remoteInbound: RemoteInboundRtp[];
  /** The send transport's bandwidth estimate (bps), when the page has one. */
  availableOutgoingBitrate?: number;
}

/**
 * Runs in the page as source text (no TypeScript helpers can leak into it). mediasoup-client's
 * bandwidth probator shows up as an inbound video stream with mid "probator": it is left out.
 */
const SAMPLE_SCRIPT = `(async () => {
  const out = { at: Date.now(), inbound: [], outbound: [], remoteInbound: [] };
  const n = (r, k) => (typeof r[k] === 'number' ? r[k] : 0);
  for (const pc of window.__rtPeerConnections || []) {
    if (pc.connectionState === 'closed') continue;
    const stats = await pc.getStats();
    let pairId;
    stats.forEach((r) => { if (r.type === 'transport' && r.selectedCandidatePairId) pairId = r.selectedCandidatePairId; });
    stats.forEach((r) => {
      if (r.type === 'inbound-rtp' && r.mid !== 'probator' && r.trackIdentifier !== 'probator') {
        out.at = r.timestamp;
        out.inbound.push({ ssrc: r.ssrc, kind: r.kind, ts: r.timestamp,
          bytesReceived: n(r, 'bytesReceived'), packetsReceived: n(r, 'packetsReceived'), packetsLost: n(r, 'packetsLost'),
          framesDecoded: n(r, 'framesDecoded'), frameWidth: n(r, 'frameWidth'), nackCount: n(r, 'nackCount'), pliCount: n(r, 'pliCount'),
          hasFreezeCount: typeof r.freezeCount === 'number', freezeCount: n(r, 'freezeCount'), totalFreezesDuration: n(r, 'totalFreezesDuration'),
          concealedSamples: n(r, 'concealedSamples'), silentConcealedSamples: n(r, 'silentConcealedSamples'),
          totalSamplesReceived: n(r, 'totalSamplesReceived'), fecPacketsReceived: n(r, 'fecPacketsReceived') });
      } else if (r.type === 'outbound-rtp') {
        out.at = r.timestamp;
        const d = r.qualityLimitationDurations || {};
        out.outbound.push({ ssrc: r.ssrc, kind: r.kind, rid: r.rid || '', ts: r.timestamp,
          bytesSent: n(r, 'bytesSent'), retransmittedPacketsSent: n(r, 'retransmittedPacketsSent'),
          nackCount: n(r, 'nackCount'), pliCount: n(r, 'pliCount'), frameWidth: n(r, 'frameWidth'), framesEncoded: n(r, 'framesEncoded'),
          qualityLimitationReason: r.qualityLimitationReason || '', limitedByBandwidth: n(d, 'bandwidth'), limitedByCpu: n(d, 'cpu') });
      } else if (r.type === 'remote-inbound-rtp') {
        out.remoteInbound.push({ ssrc: r.ssrc, kind: r.kind, fractionLost: n(r, 'fractionLost') });
      } else if (r.type === 'candidate-pair' && r.id === pairId && typeof r.availableOutgoingBitrate === 'number' && r.bytesSent > 10000) {
        out.availableOutgoingBitrate = Math.max(out.availableOutgoingBitrate || 0, r.availableOutgoingBitrate);
      }
    });
  }
  return out;
})()`;

export interface MeetingOptions {
  /** Camera height; the camera is a generated clip of (height × 16/9) × height. */
  res: number;
  joinTimeoutMs: number;
  log: (message: string) => void;
}

export interface Meeting {
  ns: Netns;
  server: NetnsServer;
  browser: Browser;
  publisher: Page;
  receiver: Page;
  publisherId: string;
  /** Camera size the publisher captures. */
  camera: { width: number; height: number };
}

const VIEWPORT = { width: 1280, height: 720 };
/** Frame rate of the camera clip; a receiver decoding well under it is short of CPU, not of network. */
export const CAMERA_FPS = 15;
const CLIP_SECONDS = 6;

/**
 * A fake-camera clip Chromium plays in a loop (`--use-file-for-fake-video-capture`): ffmpeg's
 * testsrc2 pattern with moving temporal noise, so the encoder needs its whole bitrate cap on every
 * layer, as a real camera does. Chromium's built-in fake camera is a flat pattern that compresses to
 * about 100 kbit/s at any size: no bandwidth limit would bite. Cached in the temp folder by size.
 */
export function cameraClip(width: number, height: number): string {
  const dir = path.join(os.tmpdir(), 'roundtable-bench');
  const clip = path.join(dir, `camera-noise-${width}x${height}-${CAMERA_FPS}fps-${CLIP_SECONDS}s.y4m`);
  if (existsSync(clip)) return clip;
  mkdirSync(dir, { recursive: true });
  const partial = `${clip}.partial.y4m`;
  const result = spawnSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${CAMERA_FPS},noise=alls=12:allf=t+u`,
    '-t', String(CLIP_SECONDS), '-pix_fmt', 'yuv420p', partial,
  ], { encoding: 'utf8' });
  if (result.error || result.status !== 0) {
    rmSync(partial, { force: true });
    throw new ToolError(`ffmpeg could not make the camera clip: ${result.error?.message ?? result.stderr.trim()}`);
  }
  renameSync(partial, clip);
  return clip;
}

/** Camera width for a height, 16:9 and even, as the client asks for with `?res=`. */
export function cameraWidth(height: number): number {
  return Math.round((height * 16) / 9 / 2) * 2;
}

async function waitJoined(page: Page, who: string, timeoutMs: number): Promise<void> {
  try {
    await page.waitForFunction(() => window.roundtable?.status() === 'joined', undefined, { timeout: timeoutMs, polling: 100 });
  } catch (error) {
    throw new ToolError(`${who} did not join within ${timeoutMs / 1000} s: ${error instanceof Error ? error.message : String(error)}`);
  }
}

async function newContext(browser: Browser): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: VIEWPORT, permissions: ['camera', 'microphone'] });
  await recordPeerConnections(context);
  return context;
}

/**
 * Namespace, server, Chromium, and the two pages, each registered with `cleanup` as soon as it exists.
 * The publisher sends camera and microphone; the receiver sends nothing (`camera=0&mic=0`), so that
 * what crosses the link from the host is the publisher's media plus RTCP. The receiver is in speaker
 * view with the publisher pinned to the stage, which asks for the top layer.
 */
export async function openMeeting(name: string, options: MeetingOptions, cleanup: Cleanup): Promise<Meeting> {
  const camera = { width: cameraWidth(options.res), height: options.res };
  const clip = cameraClip(camera.width, camera.height);
  const ns = await createNetns();
  cleanup.add(`namespace ${ns.name}`, () => ns.close());
  const server = await startServerInNetns(ns, { ROUNDTABLE_WORKERS: '1' });
  cleanup.add('the server', () => server.stop());
  const browser = await launchChromium({ args: [`--use-file-for-fake-video-capture=${clip}`] });
  cleanup.add('Chromium', () => browser.close());
  options.log(`${name}: namespace ${ns.name} (${ns.nsIp}), server ${server.url}, Chromium ${browser.version()}`);

  const roomId = `net-${name}-${Date.now().toString(36)}`;
  const publisher = await (await newContext(browser)).newPage();
  const receiver = await (await newContext(browser)).newPage();
  for (const [who, page] of [['publisher', publisher], ['receiver', receiver]] as const) {
    page.on('pageerror', (error) => options.log(`${name} ${who}: page error: ${error.message}`));
  }
  await publisher.goto(`${server.url}/room/${roomId}?name=Publisher&join=1&res=${options.res}`);
  await waitJoined(publisher, 'the publisher', options.joinTimeoutMs);
  await receiver.goto(`${server.url}/room/${roomId}?name=Receiver&join=1&camera=0&mic=0`);
  await waitJoined(receiver, 'the receiver', options.joinTimeoutMs);
  const publisherId = await publisher.evaluate(() => window.roundtable?.peerId());
  if (!publisherId) throw new ToolError('the publisher has no peer id');

  // Speaker view, publisher pinned: the stage tile (about 500 px tall here) asks for the top layer.
  await receiver.getByTestId('layout-button').click();
  const tile = receiver.locator(`[data-testid=tile][data-peer-id="${publisherId}"][data-source="camera"]`);
  await tile.getByTestId('pin-button').click({ timeout: options.joinTimeoutMs });
  await receiver
    .locator(`[data-testid=stage] [data-testid=tile][data-peer-id="${publisherId}"]`)
    .waitFor({ timeout: options.joinTimeoutMs });
  return { ns, server, browser, publisher, receiver, publisherId, camera };
}

export interface Samples {
  publisher: StatsSample[];
  receiver: StatsSample[];
}

/**
 * Reads both pages every `intervalMs`, on a fixed schedule (a reading that overruns skips ticks
 * rather than drifting). `onTick` sees the samples after each reading, for progress output.
 */
export class Sampler {
  readonly samples: Samples = { publisher: [], receiver: [] };
  #running = false;
  #loop: Promise<void> | undefined;

  constructor(
    private readonly meeting: Meeting,
    private readonly intervalMs: number,
    private readonly log: (message: string) => void,
    private readonly onTick: (samples: Samples) => void = () => {},
  ) {}

  start(): void {
    this.#running = true;
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
  }

  async #read(page: Page, into: StatsSample[], who: string): Promise<void> {
    try {
      into.push((await page.evaluate(SAMPLE_SCRIPT)) as StatsSample);
    } catch (error) {
      this.log(`${who}: no stats this time: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  async #run(): Promise<void> {
    const start = Date.now();
    let tick = 0;
    while (this.#running) {
      await Promise.all([
        this.#read(this.meeting.publisher, this.samples.publisher, 'publisher'),
        this.#read(this.meeting.receiver, this.samples.receiver, 'receiver'),
      ]);
      this.onTick(this.samples);
      tick = Math.max(tick + 1, Math.ceil((Date.now() - start) / this.intervalMs));
      await sleep(start + tick * this.intervalMs - Date.now());
    }
  }
}
