import type { Config } from '../../../config/index.ts';
import type { Logger } from '../logger.ts';
import { routerMediaCodecs } from '../media/codecs.ts';
import type { WorkerPool } from '../media/WorkerPool.ts';
import { Room } from './Room.ts';
import { SpeakerDetector } from './SpeakerDetector.ts';

/**
 * Live rooms by id. Creation is keyed by id with the pending promise stored before the first await,
 * so simultaneous joins to a new id share one router instead of racing to make two.
 */
export class RoomRegistry {
  readonly #rooms = new Map<string, Room>();
  readonly #creating = new Map<string, Promise<Room>>();

  constructor(
    private readonly pool: WorkerPool,
    private readonly config: Config,
    private readonly logger: Logger,
  ) {}

  get size(): number {
    return this.#rooms.size;
  }

  get(roomId: string): Room | undefined {
    return this.#rooms.get(roomId);
  }

  rooms(): Room[] {
    return [...this.#rooms.values()];
  }

  async getOrCreate(roomId: string): Promise<Room> {
    const existing = this.#rooms.get(roomId);
    if (existing && !existing.closed) return existing;
    let pending = this.#creating.get(roomId);
    if (!pending) {
      pending = this.#create(roomId).finally(() => this.#creating.delete(roomId));
      this.#creating.set(roomId, pending);
    }
    return pending;
  }

  closeAll(): void {
    for (const room of [...this.#rooms.values()]) room.close('shutdown');
  }

  async #create(roomId: string): Promise<Room> {
    const router = await this.pool.createRouter(routerMediaCodecs(this.config.media));
    const speakers = await SpeakerDetector.create(router, this.config.speakers);
    const room = new Room(roomId, router, speakers, this.config, this.logger.child({ roomId }));
    this.#rooms.set(roomId, room);
    room.once('close', () => {
      if (this.#rooms.get(roomId) === room) this.#rooms.delete(roomId);
    });
    this.logger.info({ roomId, rooms: this.#rooms.size }, 'room created');
    return room;
  }
}
