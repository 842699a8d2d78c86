/**
 * Server-side recording with real parts: a real mediasoup worker, a real ffmpeg publishing VP8 and
 * Opus as RTP (the benchmarks' synthetic publisher, given to a meeting's host), real ffmpeg recorders,
 * and ffprobe reading what they wrote.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { types } from 'mediasoup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MeetingKeys } from '../../shared/index.ts';
import { FfmpegSource } from '../bench/ffmpeg-source.ts';
import { type SyntheticPublisher, createPublisher, waitForIngress } from '../bench/synthetic-publisher.ts';
import type { ManifestTrack } from '../../sfu/src/recording/RoomRecording.ts';
import { TestClient } from '../helpers/client.ts';
import { type TestPeer, joinPeer } from '../helpers/meeting.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';

const RECORD_SECONDS = 6;

interface Probe {
  codec: string;
  duration: number;
  frames: number;
}

/** What ffprobe reads from a file: its first stream's codec, the duration, and the frames that decode. */
function probe(file: string): Probe {
  const run = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-show_entries', 'stream=codec_name,nb_read_frames:format=duration', '-of', 'json', file], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`ffprobe failed on ${file}: ${run.stderr}`);
  const info = JSON.parse(run.stdout) as { streams: { codec_name: string; nb_read_frames?: string }[]; format: { duration?: string } };
  return { codec: info.streams[0]!.codec_name, duration: Number(info.format.duration ?? 'NaN'), frames: Number(info.streams[0]!.nb_read_frames ?? 0) };
}

describe('recording a meeting on the server', { timeout: 60_000 }, () => {
  let server: TestServer;
  let dir: string;
  let meeting: MeetingKeys;
  let host: TestPeer;
  let guest: TestPeer;
  let publisher: SyntheticPublisher;
  let ffmpeg: FfmpegSource;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'rt-recordings-'));
    server = await startTestServer({ recording: { dir, minFreeMb: 1, ffmpeg: 'ffmpeg' } });
    const creator = await TestClient.connect(server.url);
    meeting = await creator.ok('createMeeting', {});
    creator.close();
    host = await joinPeer(server.url, meeting.roomId, 'Hana Host', { key: meeting.hostKey });
    guest = await joinPeer(server.url, meeting.roomId, 'Gus');
    // The host's camera and microphone: ffmpeg sends VP8 and Opus to producers given to her peer.
    const room = server.server.registry.get(meeting.roomId)!;
    const hostPeer = room.peers.get(host.join.peerId)!;
    publisher = await createPublisher(room.routers.main, true, { keyframeRequests: true });
    for (const producer of publisher.producers) {
      producer.appData = { peerId: hostPeer.id, source: producer.kind === 'video' ? 'camera' : 'microphone' };
      hostPeer.addProducer(producer as types.Producer<{ peerId: string; source: 'camera' | 'microphone' }>);
    }
    ffmpeg = FfmpegSource.start({ video: publisher.video, audio: publisher.audio!, width: 320, height: 180, fps: 15, videoBitrate: 300_000, maxSeconds: 120 });
    await waitForIngress(publisher.producers, 10_000, new AbortController().signal, () => undefined);
  });

  afterAll(async () => {
    await ffmpeg?.stop();
    publisher?.close();
    host?.client.close();
    guest?.client.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('only hosts start or stop it; everyone sees it start and stop; a late joiner is told; a file per track plays with its codec and duration', async () => {
    expect(await guest.client.send('startRecording', {})).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(await host.client.send('stopRecording', {})).toMatchObject({ ok: false, error: { code: 'RECORDING_STATE' } });

    const state = await host.client.ok('startRecording', {});
    expect(state).toMatchObject({ byName: 'Hana Host' });
    for (const peer of [host, guest]) expect(await peer.client.waitFor('recordingChanged')).toEqual({ recording: state });
    expect(await host.client.send('startRecording', {})).toMatchObject({ ok: false, error: { code: 'RECORDING_STATE' } });
    const late = await joinPeer(server.url, meeting.roomId, 'Lou', { ready: false });
    expect(late.join.recording).toEqual(state);
    late.client.close();
    expect(await guest.client.send('stopRecording', {})).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });

    await sleep(RECORD_SECONDS * 1000);
    expect(await host.client.ok('stopRecording', {})).toEqual({ tracks: 2 });
    await guest.client.waitFor('recordingChanged', (e) => e.recording === null);

    const folder = server.server.registry.get(meeting.roomId)!.recording.folder;
    const manifest = JSON.parse(readFileSync(path.join(folder, 'manifest.json'), 'utf8')) as { tracks: ManifestTrack[] };
    expect(manifest.tracks.map((t) => [t.kind, t.source, t.displayName]).sort()).toEqual([
      ['audio', 'microphone', 'Hana Host'],
      ['video', 'camera', 'Hana Host'],
    ]);
    for (const track of manifest.tracks) {
      expect(track.file).toMatch(/^\d\d-Hana-Host-(camera|microphone)\.webm$/); // the name cleaned of spaces
      expect(track.endMs).toBeGreaterThan(track.startMs);
      const info = probe(path.join(folder, track.file));
      expect(info.codec).toBe(track.kind === 'video' ? 'vp8' : 'opus');
      // A file runs from its first frame (mediaStartMs) to the stop, within a second.
      expect(track.mediaStartMs).toBeDefined();
      expect(Math.abs(info.duration - (track.endMs! - track.mediaStartMs!) / 1000)).toBeLessThan(1);
      expect(track.mediaStartMs! - track.startMs).toBeLessThan(3_000);
      expect(info.frames).toBeGreaterThan(track.kind === 'video' ? 4 * 15 : 4 * 40); // 15 fps video, 50 Opus frames/s
    }
  });

  it('hosts list the recordings (not guests), download with the links, get the composite, and delete; the pre-join screen is told', async () => {
    expect(await guest.client.send('listRecordings', {})).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    const { recordings } = await host.client.ok('listRecordings', {});
    expect(recordings).toHaveLength(1);
    const [recording] = recordings;
    expect(recording).toMatchObject({ byName: 'Hana Host', tracks: [{ kind: expect.any(String) }, { kind: expect.any(String) }] });
    expect(Math.abs(recording!.durationMs! - RECORD_SECONDS * 1000)).toBeLessThan(1_500);
    expect(recording!.composites).toMatchObject([{ layout: 'grid', state: expect.stringMatching(/queued|rendering|done/) }]);

    // The grid composite was queued when the recording stopped: a video and an audio stream, the length of the recording.
    const library = server.server.registry.recordings;
    const folder = library.folderOf(meeting.roomId, recording!.id);
    expect(await library.jobs.settled(folder, 'grid')).toMatchObject({ state: 'done' });
    const composite = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type,codec_name:format=duration', '-of', 'json', path.join(folder, 'composite-grid.mp4')], { encoding: 'utf8' });
    const compositeInfo = JSON.parse(composite.stdout) as { streams: { codec_type: string; codec_name: string }[]; format: { duration: string } };
    expect(compositeInfo.streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort()).toEqual(['audio:aac', 'video:h264']);
    expect(Math.abs(Number(compositeInfo.format.duration) - recording!.durationMs! / 1000)).toBeLessThan(0.5);

    // Links download the exact file, as an attachment; a tampered link does not.
    const video = recording!.tracks.find((t) => t.kind === 'video')!;
    const response = await fetch(new URL(video.url, server.url));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-disposition')).toBe(`attachment; filename="${video.file}"`);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(Buffer.from(await response.arrayBuffer()).equals(readFileSync(path.join(folder, video.file)))).toBe(true);
    expect((await fetch(new URL(video.url.replace(/sig=./, 'sig=A'), server.url))).status).toBe(404);
    expect((await fetch(new URL(video.url.replace(video.file, 'manifest.json'), server.url))).status).toBe(404);

    // The same list over HTTP for the host's scripts, with the host key; nobody else.
    const api = new URL(`/api/rooms/${meeting.roomId}/recordings`, server.url);
    expect((await fetch(api, { headers: { authorization: `Bearer ${meeting.hostKey}` } })).status).toBe(200);
    expect((await fetch(api, { headers: { authorization: 'Bearer AAAAAAAAAAAAAAAAAAAAAAAA' } })).status).toBe(401);
    expect((await fetch(api)).status).toBe(401);

    // Someone on the pre-join screen learns whether the room is being recorded, and nothing else.
    const visitor = await TestClient.connect(server.url);
    expect(await visitor.ok('roomStatus', { roomId: meeting.roomId })).toEqual({ recording: null });
    const state = await host.client.ok('startRecording', {});
    expect(await visitor.ok('roomStatus', { roomId: meeting.roomId })).toEqual({ recording: state });
    expect(await visitor.ok('roomStatus', { roomId: 'no-such-room-here' })).toEqual({ recording: null });
    visitor.close();
    const live = (await host.client.ok('listRecordings', {})).recordings[0]!;
    expect(live.durationMs).toBeNull();
    expect(await host.client.send('deleteRecording', { recordingId: live.id })).toMatchObject({ ok: false, error: { code: 'RECORDING_STATE' } });
    await host.client.ok('stopRecording', {});

    // Deleting takes the files and the links with it.
    expect(await guest.client.send('deleteRecording', { recordingId: recording!.id })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    await host.client.ok('deleteRecording', { recordingId: live.id });
    await host.client.ok('deleteRecording', { recordingId: recording!.id });
    expect(await host.client.send('deleteRecording', { recordingId: recording!.id })).toMatchObject({ ok: false, error: { code: 'RECORDING_NOT_FOUND' } });
    expect((await host.client.ok('listRecordings', {})).recordings).toEqual([]);
    expect((await fetch(new URL(video.url, server.url))).status).toBe(404);
    expect(await host.client.send('renderRecording', { recordingId: '../../etc', layout: 'grid' } as never)).toMatchObject({ ok: false, error: { code: 'INVALID_PAYLOAD' } });
  });

  it('a recorder killed mid-recording leaves a file that plays up to the kill', async () => {
    await host.client.ok('startRecording', {});
    const recording = server.server.registry.get(meeting.roomId)!.recording;
    const recorders = await recording.recorders();
    const video = recorders.find((r) => r.consumer.kind === 'video')!;
    // Four seconds of video from the first keyframe (a busy machine takes a while to get there).
    const firstFrameAt = await video.firstMedia;
    await sleep(firstFrameAt + 4_000 - Date.now());
    process.kill(video.pid!, 'SIGKILL');
    await video.exited;
    await sleep(500);
    await host.client.ok('stopRecording', {});
    const manifest = JSON.parse(readFileSync(path.join(recording.folder, 'manifest.json'), 'utf8')) as { tracks: ManifestTrack[] };
    const file = manifest.tracks.find((t) => t.kind === 'video')!.file;
    const info = probe(path.join(recording.folder, file));
    expect(info.codec).toBe('vp8');
    expect(info.frames).toBeGreaterThan(2 * 15); // 4 s at 15 fps, less what the last unflushed cluster held
  });

  it('in a webinar the host records and manages recordings; viewers can do neither', async () => {
    const creator = await TestClient.connect(server.url);
    const webinar = await creator.ok('createWebinar', {});
    creator.close();
    const chair = await joinPeer(server.url, webinar.roomId, 'Wen Host', { key: webinar.hostKey, ready: false });
    const viewer = await joinPeer(server.url, webinar.roomId, 'Vic', { key: webinar.audienceKey, ready: false });
    try {
      expect(await viewer.client.send('startRecording', {})).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
      const state = await chair.client.ok('startRecording', {});
      expect(await viewer.client.waitFor('recordingChanged')).toEqual({ recording: state });
      expect(await viewer.client.send('listRecordings', {})).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
      expect(await viewer.client.send('stopRecording', {})).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
      await chair.client.ok('stopRecording', {});
      expect((await chair.client.ok('listRecordings', {})).recordings).toHaveLength(1);
    } finally {
      chair.client.close();
      viewer.client.close();
    }
  });

  it('with too little free disk space, starting is refused with a stable code and nothing starts', async () => {
    const tight = await startTestServer({ recording: { dir, minFreeMb: 10_000_000, ffmpeg: 'ffmpeg' } });
    try {
      const creator = await TestClient.connect(tight.url);
      const keys: MeetingKeys = await creator.ok('createMeeting', {});
      creator.close();
      const chair = await joinPeer(tight.url, keys.roomId, 'Chair', { key: keys.hostKey, ready: false });
      const reply = await chair.client.send('startRecording', {});
      expect(reply).toMatchObject({ ok: false, error: { code: 'RECORDING_NO_SPACE' } });
      expect(!reply.ok && reply.error.message).toMatch(/MB free/);
      expect(tight.server.registry.get(keys.roomId)!.recording.state).toBeNull();
      chair.client.close();
    } finally {
      await tight.close();
    }
  });
});
