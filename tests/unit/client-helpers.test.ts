import { describe, expect, it } from 'vitest';
import { bestFit } from '../../client/src/composables/useGridLayout.ts';
import { isRoomId, randomRoomId, roomIdFromInput } from '../../client/src/room-id.ts';
import { roomIdSchema } from '../../shared/index.ts';

describe('randomRoomId', () => {
  it('makes ids the server accepts, without repeats', () => {
    const ids = new Set(Array.from({ length: 2000 }, randomRoomId));
    expect(ids.size).toBe(2000);
    for (const id of [...ids].slice(0, 50)) {
      expect(id).toMatch(/^[a-z2-9]{4}(-[a-z2-9]{4}){3}$/);
      expect(isRoomId(id)).toBe(true);
      expect(roomIdSchema.safeParse(id).success).toBe(true);
    }
  });

  it('reads an id from a pasted invite link or a bare id', () => {
    expect(roomIdFromInput('https://meet.example.org/room/ab12-cd34?x=1')).toBe('ab12-cd34');
    expect(roomIdFromInput('  team-sync ')).toBe('team-sync');
    expect(roomIdFromInput('no spaces allowed')).toBeUndefined();
  });
});

describe('bestFit grid layout', () => {
  it('puts one person full width and grows columns with the count', () => {
    expect(bestFit(1, 1600, 900).columns).toBe(1);
    expect(bestFit(4, 1600, 900).columns).toBe(2);
    expect(bestFit(9, 1600, 900).columns).toBe(3);
    expect(bestFit(25, 1600, 900).columns).toBe(5);
  });

  it('keeps every tile inside the area', () => {
    for (const count of [1, 2, 3, 5, 8, 13, 26]) {
      for (const [w, h] of [[1600, 900], [390, 700], [1000, 300]] as const) {
        const { columns, tileWidth } = bestFit(count, w, h);
        const rows = Math.ceil(count / columns);
        expect(columns * tileWidth).toBeLessThanOrEqual(w);
        expect(rows * (tileWidth * 9) / 16).toBeLessThanOrEqual(h);
      }
    }
  });

  it('stacks tiles on a tall phone screen', () => {
    expect(bestFit(3, 390, 700).columns).toBe(1);
  });
});
