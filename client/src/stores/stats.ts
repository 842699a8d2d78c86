import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { SessionStats } from '../services/MediaSession.ts';
import { type QualityLevel, levelFromNetwork } from '../quality.ts';
import { useRoomStore } from './room.ts';

export interface LayerRate {
  source: string;
  rid?: string;
  kbps: number;
  width: number;
  height: number;
  codec: string;
}

const POLL_MS = 2_000;

/** Polls the browser's WebRTC stats while in a call and turns counters into rates. */
export const useStatsStore = defineStore('stats', () => {
  const room = useRoomStore();
  const latest = shallowRef<SessionStats>();
  const previous = shallowRef<SessionStats>();
  let timer: ReturnType<typeof setInterval> | undefined;

  const seconds = computed(() =>
    latest.value && previous.value ? Math.max(0.001, (latest.value.timestamp - previous.value.timestamp) / 1000) : 0,
  );

  const sendLayers = computed<LayerRate[]>(() => {
    const now = latest.value;
    if (!now) return [];
    return now.outbound.map((o) => {
      const before = previous.value?.outbound.find((p) => p.source === o.source && p.rid === o.rid);
      const kbps = before && seconds.value ? ((o.bytesSent - before.bytesSent) * 8) / 1000 / seconds.value : 0;
      return { source: o.source, ...(o.rid ? { rid: o.rid } : {}), kbps: Math.max(0, Math.round(kbps)), width: o.frameWidth, height: o.frameHeight, codec: o.codec };
    });
  });

  const receiveKbps = computed(() => {
    if (!latest.value || !previous.value || !seconds.value) return 0;
    const total = (s: SessionStats) => s.inbound.reduce((sum, i) => sum + i.bytesReceived, 0);
    return Math.max(0, Math.round(((total(latest.value) - total(previous.value)) * 8) / 1000 / seconds.value));
  });

  /** Share of packets lost on what we receive, over the last interval. */
  const receiveLoss = computed(() => {
    if (!latest.value || !previous.value) return 0;
    const sum = (s: SessionStats, key: 'packetsLost' | 'packetsReceived') => s.inbound.reduce((n, i) => n + i[key], 0);
    const lost = sum(latest.value, 'packetsLost') - sum(previous.value, 'packetsLost');
    const received = sum(latest.value, 'packetsReceived') - sum(previous.value, 'packetsReceived');
    return lost + received > 0 ? Math.max(0, lost) / (lost + received) : 0;
  });

  /** What the server reports losing of what we send. */
  const sendLoss = computed(() => Math.max(0, ...(latest.value?.outbound.map((o) => o.fractionLost ?? 0) ?? [0])));
  const rtt = computed(() => latest.value?.sendRtt ?? latest.value?.recvRtt);
  const codecs = computed(() => [...new Set([...(latest.value?.inbound ?? []), ...(latest.value?.outbound ?? [])].map((s) => s.codec).filter(Boolean))]);
  const localQuality = computed<QualityLevel | undefined>(() =>
    latest.value ? levelFromNetwork(Math.max(sendLoss.value, receiveLoss.value), rtt.value) : undefined,
  );

  async function poll(): Promise<void> {
    const session = room.session;
    if (!session) return;
    const next = await session.stats();
    previous.value = latest.value;
    latest.value = next;
  }

  function start(): void {
    if (timer) return;
    timer = setInterval(() => {
      poll().catch((error: unknown) => console.warn('stats poll failed', error));
    }, POLL_MS);
  }

  function stop(): void {
    if (timer) clearInterval(timer);
    timer = undefined;
    latest.value = undefined;
    previous.value = undefined;
  }

  return { latest, sendLayers, receiveKbps, receiveLoss, sendLoss, rtt, codecs, localQuality, start, stop };
});
