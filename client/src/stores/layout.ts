import { defineStore } from 'pinia';
import { ref, watch } from 'vue';

export type LayoutMode = 'grid' | 'speaker';
export type SidePanel = 'chat' | 'participants' | 'stats' | 'settings';

const STORAGE_KEY = 'roundtable.layout';

function saved(): { mode?: LayoutMode; hideSelf?: boolean } {
  try {
    return JSON.parse(localStorage.getItem(STORAGE_KEY) ?? '{}') as { mode?: LayoutMode; hideSelf?: boolean };
  } catch {
    return {}; // corrupt preferences: use the defaults
  }
}

/** How this person looks at the meeting. Purely local: changing it never touches the server. */
export const useLayoutStore = defineStore('layout', () => {
  const initial = saved();
  const mode = ref<LayoutMode>(initial.mode === 'speaker' ? 'speaker' : 'grid');
  const hideSelf = ref(initial.hideSelf === true);
  /** Tile key (`peerId:source`) pinned to the stage; overrides screen share and active speaker. */
  const pinned = ref<string>();
  const panel = ref<SidePanel>();

  watch([mode, hideSelf], () => localStorage.setItem(STORAGE_KEY, JSON.stringify({ mode: mode.value, hideSelf: hideSelf.value })));

  function togglePin(tileKey: string): void {
    pinned.value = pinned.value === tileKey ? undefined : tileKey;
  }

  function togglePanel(which: SidePanel): void {
    panel.value = panel.value === which ? undefined : which;
  }

  return { mode, hideSelf, pinned, panel, togglePin, togglePanel };
});
