import { computed } from 'vue';
import { type Participant, useRoomStore } from '../stores/room.ts';
import { useLayoutStore } from '../stores/layout.ts';

export interface TileModel {
  /** `peerId:camera` or `peerId:screen`. */
  key: string;
  participant: Participant;
  source: 'camera' | 'screen';
}

/**
 * The tiles of the meeting in a stable order (join order; a screen share right after its owner), and
 * which one takes the stage: a pinned tile, else the newest screen share, else the active speaker,
 * else the first other person.
 */
export function useTiles() {
  const room = useRoomStore();
  const layout = useLayoutStore();

  /** Webinar viewers never have a tile: the audience is a count and a list, not a grid. */
  const all = computed<TileModel[]>(() =>
    room.participants.filter((participant) => participant.role !== 'viewer').flatMap((participant) => {
      const tiles: TileModel[] = [{ key: `${participant.id}:camera`, participant, source: 'camera' }];
      if (participant.media.screen) tiles.push({ key: `${participant.id}:screen`, participant, source: 'screen' });
      return tiles;
    }),
  );

  /** What the grid shows: everything, minus the self-view when hidden. */
  const visible = computed(() =>
    all.value.filter((tile) => !(layout.hideSelf && tile.participant.isLocal && tile.source === 'camera')),
  );

  const stage = computed<TileModel | undefined>(() => {
    const tiles = all.value;
    const pinned = tiles.find((tile) => tile.key === layout.pinned);
    if (pinned) return pinned;
    const screens = tiles.filter((tile) => tile.source === 'screen');
    const remoteScreen = screens.filter((tile) => !tile.participant.isLocal).at(-1);
    if (remoteScreen ?? screens.at(-1)) return remoteScreen ?? screens.at(-1);
    const speaker = tiles.find((tile) => tile.source === 'camera' && tile.participant.id === room.stageSpeakerId && !tile.participant.isLocal);
    return speaker ?? tiles.find((tile) => !tile.participant.isLocal) ?? tiles[0];
  });

  const filmstrip = computed(() =>
    visible.value.filter((tile) => tile.key !== stage.value?.key),
  );

  return { all, visible, stage, filmstrip };
}
