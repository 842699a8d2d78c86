import { EventEmitter } from 'node:events';

/** Node's EventEmitter with an event map: `{ close: []; peerLeft: [Peer] }`. */
export class TypedEmitter<Events extends Record<keyof Events, unknown[]>> extends EventEmitter<Events> {}
