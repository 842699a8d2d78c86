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
  #observers: Observers;

  private constructor(
    observers: Observers,
    private readonly settings: Config['speakers'],
  ) {
    super();
    this.#stage = new StageSelector(settings.holdMs);
    this.#stage.on('change', (peerId) => this.emit('activeSpeaker', peerId));
    this.#observers = this.#listen(observers);
  }

  static async create(router: types.Router, settings: Config['speakers']): Promise<SpeakerDetector> {
    return new SpeakerDetector(await createObservers(router, settings), settings);
  }

  /**
   * Runs on another router from now on (the old one's worker died, taking its observers along); the
   * caller adds the microphones again. Who holds the stage is kept.
   */
  async moveTo(router: types.Router): Promise<void> {
    const observers = await createObservers(router, this.settings);
    this.#observers = this.#listen(observers);
    this.#setSpeaking([]);
  }

  get activeSpeaker(): string | null {
    return this.#stage.current;
  }

  get speaking(): string[] {
    return [...this.#speaking];
  }

  /** Adds a microphone (already available on the detector's router); adding it twice is harmless. */
  async addMicrophone(producer: PeerProducer): Promise<void> {
    const { dominance, levels, added } = this.#observers;
    if (added.has(producer.id) || dominance.closed) return; // closed: a recovery is moving them and adds it
    added.add(producer.id);
    await Promise.all([dominance.addProducer({ producerId: producer.id }), levels.addProducer({ producerId: producer.id })]);
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

  #listen(observers: Observers): Observers {
    const { dominance, levels } = observers;
    // Events from observers this detector has moved away from are ignored.
    const current = () => this.#observers === observers;
    dominance.on('dominantspeaker', ({ producer }) => current() && this.#stage.dominant(peerOf(producer)));
    levels.on('volumes', (volumes) => current() && this.#setSpeaking(volumes.map(({ producer }) => peerOf(producer))));
    levels.on('silence', () => current() && this.#setSpeaking([]));
    return observers;
  }

  #setSpeaking(peerIds: string[]): void {
    this.#stage.spoke(peerIds);
    const sorted = [...new Set(peerIds)].sort();
    if (sorted.join() === this.#speaking.join()) return;
    this.#speaking = sorted;
    this.emit('speaking', this.speaking);
  }
}

interface Observers {
  dominance: types.ActiveSpeakerObserver;
  levels: types.AudioLevelObserver;
  /** Producers already added to these observers. */
  added: Set<string>;
}

async function createObservers(router: types.Router, settings: Config['speakers']): Promise<Observers> {
  const dominance = await router.createActiveSpeakerObserver({ interval: 300 });
  const levels = await router.createAudioLevelObserver({
    maxEntries: 32,
    threshold: settings.speakingThresholdDb,
    interval: settings.levelIntervalMs,
  });
  return { dominance, levels, added: new Set() };
}

function peerOf(producer: types.Producer): string {
  return (producer.appData as { peerId: string }).peerId;
}
