import type { types } from 'mediasoup';
import type { Config } from '../../../config/index.ts';
import { TypedEmitter } from '../typed-emitter.ts';
import type { PeerProducer } from './Peer.ts';
import { StageSelector } from './StageSelector.ts';

type SpeakerEvents = {
  activeSpeaker: [peerId: string | null];
  speaking: [peerIds: string[]];
};

/**
 * Watches the room's microphones on the router: mediasoup's ActiveSpeakerObserver names the dominant
 * speaker (it already discounts clicks and coughs) and feeds the StageSelector's hold; the
 * AudioLevelObserver gives the set of peers speaking now, for the indicators on every tile.
 */
export class SpeakerDetector extends TypedEmitter<SpeakerEvents> {
  readonly #stage: StageSelector;
  #speaking: string[] = [];

  private constructor(
    private readonly dominance: types.ActiveSpeakerObserver,
    private readonly levels: types.AudioLevelObserver,
    holdMs: number,
  ) {
    super();
    this.#stage = new StageSelector(holdMs);
    this.#stage.on('change', (peerId) => this.emit('activeSpeaker', peerId));
    dominance.on('dominantspeaker', ({ producer }) => this.#stage.dominant(peerOf(producer)));
    levels.on('volumes', (volumes) => this.#setSpeaking(volumes.map(({ producer }) => peerOf(producer))));
    levels.on('silence', () => this.#setSpeaking([]));
  }

  static async create(router: types.Router, settings: Config['speakers']): Promise<SpeakerDetector> {
    const dominance = await router.createActiveSpeakerObserver({ interval: 300 });
    const levels = await router.createAudioLevelObserver({
      maxEntries: 32,
      threshold: settings.speakingThresholdDb,
      interval: settings.levelIntervalMs,
    });
    return new SpeakerDetector(dominance, levels, settings.holdMs);
  }

  get activeSpeaker(): string | null {
    return this.#stage.current;
  }

  get speaking(): string[] {
    return [...this.#speaking];
  }

  async addMicrophone(producer: PeerProducer): Promise<void> {
    await Promise.all([
      this.dominance.addProducer({ producerId: producer.id }),
      this.levels.addProducer({ producerId: producer.id }),
    ]);
  }

  /** Gone or muted peers neither hold the stage nor show as speaking. */
  silence(peerId: string): void {
    this.#stage.removePeer(peerId);
    if (this.#speaking.includes(peerId)) this.#setSpeaking(this.#speaking.filter((id) => id !== peerId));
  }

  close(): void {
    this.#stage.close();
    this.removeAllListeners();
  }

  #setSpeaking(peerIds: string[]): void {
    this.#stage.spoke(peerIds);
    const sorted = [...new Set(peerIds)].sort();
    if (sorted.join() === this.#speaking.join()) return;
    this.#speaking = sorted;
    this.emit('speaking', this.speaking);
  }
}

function peerOf(producer: types.Producer): string {
  return (producer.appData as { peerId: string }).peerId;
}
