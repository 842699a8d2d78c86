import { describe, expect, it } from 'vitest';
import { compositeCommand, gridCells, speakerFocus, visibleSpans } from '../../sfu/src/recording/composite-graph.ts';
import type { Manifest, ManifestTrack } from '../../sfu/src/recording/manifest.ts';

function track(over: Partial<ManifestTrack> & Pick<ManifestTrack, 'file' | 'peerId' | 'source'>): ManifestTrack {
  return {
    displayName: over.peerId,
    kind: over.source === 'microphone' ? 'audio' : 'video',
    mimeType: 'video/VP8',
    startMs: 0,
    endMs: null,
    pauses: [],
    ...over,
  };
}

const manifest = (tracks: ManifestTrack[], speakers: Manifest['speakers'] = []): Manifest => ({ roomId: 'r', startedAt: 0, byName: 'h', durationMs: 10_000, tracks, speakers });

describe('composite layout', () => {
  it('grid cells are even-sized, inside the frame, with the last row centred', () => {
    for (let n = 1; n <= 12; n += 1) {
      const cells = gridCells(n);
      expect(cells).toHaveLength(n);
      for (const c of cells) {
        expect(c.w % 2).toBe(0);
        expect(c.h % 2).toBe(0);
        expect(c.x).toBeGreaterThanOrEqual(0);
        expect(c.x + c.w).toBeLessThanOrEqual(1280);
        expect(c.y + c.h).toBeLessThanOrEqual(720);
      }
    }
    expect(gridCells(3).map((c) => [c.x, c.y])).toEqual([[0, 0], [640, 0], [320, 360]]);
  });

  it('a track shows from its first frame to its end, minus its pauses; an open pause runs to the end', () => {
    const t = track({ file: 'a.webm', peerId: 'a', source: 'camera', startMs: 1_000, mediaStartMs: 1_500, endMs: 9_000, pauses: [[3_000, 4_000], [8_000, null]] });
    expect(visibleSpans(t, 10_000)).toEqual([{ from: 1.5, to: 3 }, { from: 4, to: 8 }]);
    expect(visibleSpans(track({ file: 'b.webm', peerId: 'b', source: 'camera' }), 10_000)).toEqual([{ from: 0, to: 10 }]);
  });

  it('the speaker view follows the floor, prefers a live screen share, and never shows a paused camera', () => {
    const a = track({ file: 'a.webm', peerId: 'a', source: 'camera' });
    const b = track({ file: 'b.webm', peerId: 'b', source: 'camera', pauses: [[6_000, 7_000]] });
    const screen = track({ file: 's.webm', peerId: 'a', source: 'screen', startMs: 8_000, endMs: 9_000 });
    const focus = speakerFocus(manifest([a, b, screen], [{ atMs: 0, peerId: null }, { atMs: 2_000, peerId: 'b' }, { atMs: 4_000, peerId: 'a' }, { atMs: 5_000, peerId: 'b' }]), [a, b, screen], 10_000);
    expect(focus.get(a)).toEqual([{ from: 0, to: 2 }, { from: 4, to: 5 }, { from: 6, to: 7 }]);
    expect(focus.get(b)).toEqual([{ from: 2, to: 4 }, { from: 5, to: 6 }, { from: 7, to: 8 }, { from: 9, to: 10 }]);
    expect(focus.get(screen)).toEqual([{ from: 8, to: 9 }]);
  });

  it('names go to label files, never into the filter graph', () => {
    const evil = "x':enable=0,drawtext=text=pwned;[0:v]null";
    const tracks = [track({ file: 'a.webm', peerId: 'a', displayName: evil, source: 'camera' }), track({ file: 'm.webm', peerId: 'a', displayName: evil, source: 'microphone' })];
    const command = compositeCommand({ manifest: manifest(tracks), inputs: tracks.map((t) => ({ track: t, path: t.file })), durationMs: 10_000, layout: 'grid', output: 'out.mp4' });
    expect(command.filterScript).not.toContain('pwned');
    expect(command.labels.map((l) => l.text)).toEqual([evil]);
    expect(command.args).toEqual(expect.arrayContaining(['-t', '10', '-map', '[vout]', '-map', '[aout]']));
  });

  it('with no video the picture is the background, and with no audio the sound is silence', () => {
    const mic = track({ file: 'm.webm', peerId: 'a', source: 'microphone' });
    const audioOnly = compositeCommand({ manifest: manifest([mic]), inputs: [{ track: mic, path: mic.file }], durationMs: 10_000, layout: 'speaker', output: 'o.mp4' });
    expect(audioOnly.filterScript).toContain('[base0]null');
    const cam = track({ file: 'a.webm', peerId: 'a', source: 'camera' });
    const silent = compositeCommand({ manifest: manifest([cam]), inputs: [{ track: cam, path: cam.file }], durationMs: 10_000, layout: 'grid', output: 'o.mp4' });
    expect(silent.filterScript).toContain('anullsrc');
  });
});
