import { EventEmitter } from 'node:events';

/** Node's EventEmitter with an event map: `{ close: []; peerLeft: [Peer] }`. */
export class TypedEmitter<Events extends Record<keyof Events, unknown[]>> extends EventEmitter<Events> {}

/**
 * Adds a listener and returns what removes it, so an owner that listens to many events of something
 * it does not own can stop in one place: `const off = [listen(room, 'close', f), …]; off.forEach((o) => o())`.
 */
export function listen<Events extends Record<keyof Events, unknown[]>, E extends keyof Events & (string | symbol)>(
  emitter: TypedEmitter<Events>,
  event: E,
  listener: (...args: Events[E]) => void,
): () => void {
  // EventEmitter<Events>'s own key and listener types do not narrow from a generic E: go through the base.
  const plain = emitter as unknown as EventEmitter;
  const untyped = listener as (...args: unknown[]) => void;
  plain.on(event, untyped);
  return () => void plain.off(event, untyped);
}
