/// <reference types="vite/client" />
declare module '*.vue' {
  import type { DefineComponent } from 'vue';
  const component: DefineComponent<object, object, unknown>;
  export default component;
}

interface Window {
  roundtable?: {
    stats(): Promise<import('./services/MediaSession.ts').SessionStats | undefined>;
    status(): string;
    peerId(): string | undefined;
    socketId(): string | undefined;
    cameraLayersActive(): boolean[];
    /** Shared files and this browser's transfers: names, sizes, states, byte counts, times. */
    files(): Array<Omit<import('./stores/files.ts').SharedFileEntry, 'url'> & { saved: boolean }>;
  };
}
