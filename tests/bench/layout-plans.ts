/**
 * What each participant's screen shows of the others, per layout, and so which simulcast layer (or
 * none) each of its video consumers should get. Tile sizes come from the client's own arithmetic
 * (bestFit for the grid, layerForHeight for the layer), applied to a desktop screen.
 */
import { GRID_GAP, bestFit } from '../../client/src/composables/useGridLayout.ts';
import { layerForHeight } from '../../client/src/services/ViewTracker.ts';

/**
 * A 1920x1080 screen at devicePixelRatio 1, less about 120 px of browser tabs, address bar and the
 * meeting's control bar: the area the layouts share. Each layout has 8 px of padding inside it.
 */
export const SCREEN = { width: 1920, height: 1080, contentHeight: 960, padding: 8 } as const;
/** Tiles on one grid page (config client.gridPageSize); tiles on other pages are paused. */
const GRID_PAGE_SIZE = 25;
/** The filmstrip's height: CSS clamp(72px, 16vh, 150px) in SpeakerLayout.vue, 150 on this screen. */
const FILMSTRIP_HEIGHT = Math.min(150, Math.max(72, Math.round(0.16 * SCREEN.contentHeight)));
const ASPECT = 16 / 9;
/** The top layer: what "everyone at the top layer" asks for. */
export const TOP_LAYER = 2;

export type LayoutName = 'naive' | 'grid' | 'speaker';
export const LAYOUT_NAMES: readonly LayoutName[] = ['naive', 'grid', 'speaker'];

/** What one receiver wants of one publisher's camera: nothing (paused), or one spatial layer. */
export type Wanted = { paused: true } | { paused: false; spatialLayer: number; tileHeight: number | null };

export interface LayoutPlan {
  name: LayoutName;
  /** One line for the report: the tiles and their sizes. */
  description: string;
  /** What `receiver` wants of `publisher` (never itself). */
  wanted(receiver: number, publisher: number): Wanted;
}

const shown = (tileHeight: number): Wanted => ({ paused: false, spatialLayer: layerForHeight(tileHeight), tileHeight });

/** The others of `receiver`, lowest index first: the order tiles are laid out in. */
function othersOf(receiver: number, participants: number): number[] {
  return Array.from({ length: participants }, (_, i) => i).filter((i) => i !== receiver);
}

function naivePlan(): LayoutPlan {
  return {
    name: 'naive',
    description: `every camera at layer ${TOP_LAYER}, whatever the screen shows`,
    wanted: () => ({ paused: false, spatialLayer: TOP_LAYER, tileHeight: null }),
  };
}

/** Every participant, own tile included, in one grid page sized by the client's bestFit. */
function gridPlan(participants: number): LayoutPlan {
  const tiles = Math.min(participants, GRID_PAGE_SIZE);
  const inner = SCREEN.contentHeight - 2 * SCREEN.padding;
  const fit = bestFit(tiles, SCREEN.width - 2 * SCREEN.padding, inner);
  const tileHeight = Math.floor(fit.tileWidth / ASPECT);
  const rows = Math.ceil(tiles / fit.columns);
  // The own tile comes first, then the others in order: those past the page are off-screen.
  const onPage = GRID_PAGE_SIZE - 1;
  return {
    name: 'grid',
    description:
      `${tiles} tiles (${fit.columns}x${rows}) of ${fit.tileWidth}x${tileHeight} px, gap ${GRID_GAP} → layer ${layerForHeight(tileHeight)}` +
      (participants > GRID_PAGE_SIZE ? `; ${participants - GRID_PAGE_SIZE} on other pages, paused` : ''),
    wanted: (receiver, publisher) => {
      const position = othersOf(receiver, participants).indexOf(publisher);
      return position < onPage ? shown(tileHeight) : { paused: true };
    },
  };
}

/**
 * The lowest-indexed other participant on the stage, the next ones as filmstrip thumbnails as far as
 * the screen is wide, the rest scrolled out of the filmstrip (paused, as ViewTracker does).
 */
function speakerPlan(participants: number): LayoutPlan {
  const stageHeight = SCREEN.contentHeight - 2 * SCREEN.padding - GRID_GAP - FILMSTRIP_HEIGHT;
  const thumbnailWidth = FILMSTRIP_HEIGHT * ASPECT;
  const visible = Math.floor((SCREEN.width - 2 * SCREEN.padding + GRID_GAP) / (thumbnailWidth + GRID_GAP));
  const thumbnails = Math.min(visible, participants - 2);
  const hidden = Math.max(0, participants - 2 - thumbnails);
  return {
    name: 'speaker',
    description:
      `stage ${stageHeight} px → layer ${layerForHeight(stageHeight)}, ${thumbnails} thumbnails ${FILMSTRIP_HEIGHT} px → ` +
      `layer ${layerForHeight(FILMSTRIP_HEIGHT)}, ${hidden} off-screen, paused`,
    wanted: (receiver, publisher) => {
      const position = othersOf(receiver, participants).indexOf(publisher);
      if (position === 0) return shown(stageHeight);
      return position <= visible ? shown(FILMSTRIP_HEIGHT) : { paused: true };
    },
  };
}

export function layoutPlan(name: LayoutName, participants: number): LayoutPlan {
  switch (name) {
    case 'naive':
      return naivePlan();
    case 'grid':
      return gridPlan(participants);
    case 'speaker':
      return speakerPlan(participants);
  }
}
