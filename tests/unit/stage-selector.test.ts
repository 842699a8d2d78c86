import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StageSelector } from '../../sfu/src/rooms/StageSelector.ts';

describe('StageSelector', () => {
  let stage: StageSelector;
  let changes: Array<string | null>;
  beforeEach(() => {
    vi.useFakeTimers();
    stage = new StageSelector(2_000);
    changes = [];
    stage.on('change', (id) => changes.push(id));
  });
  afterEach(() => {
    stage.close();
    vi.useRealTimers();
  });

  it('gives an empty stage to the first speaker at once', () => {
    stage.dominant('ann');
    expect(changes).toEqual(['ann']);
  });

  it('lets the current speaker hold the stage for the hold time, then hands it to a challenger still talking', () => {
    stage.dominant('ann');
    vi.advanceTimersByTime(500);
    stage.dominant('ben');
    vi.advanceTimersByTime(1_000);
    stage.spoke(['ben']);
    expect(stage.current).toBe('ann');
    vi.advanceTimersByTime(600); // 2.1 s after ann took the stage
    expect(stage.current).toBe('ben');
    expect(changes).toEqual(['ann', 'ben']);
  });

  it('ignores a short noise: a challenger silent when the hold ends does not take the stage', () => {
    stage.dominant('ann');
    vi.advanceTimersByTime(100);
    stage.dominant('cough'); // and never audible again
    vi.advanceTimersByTime(3_000);
    expect(stage.current).toBe('ann');
    expect(changes).toEqual(['ann']);
  });

  it('cancels a pending switch when the current speaker is named dominant again', () => {
    stage.dominant('ann');
    stage.dominant('ben');
    stage.dominant('ann');
    stage.spoke(['ben']);
    vi.advanceTimersByTime(5_000);
    expect(changes).toEqual(['ann']);
  });

  it('switches at once after the hold has passed, and frees the stage when the speaker leaves', () => {
    stage.dominant('ann');
    vi.advanceTimersByTime(2_500);
    stage.dominant('ben');
    expect(stage.current).toBe('ben');
    stage.removePeer('ben');
    expect(stage.current).toBeNull();
    expect(changes).toEqual(['ann', 'ben', null]);
  });
});
