import { type RoomKind, isModerator } from '../../../shared/index.ts';
import { SignalingError } from '../errors.ts';
import type { Peer } from '../rooms/Peer.ts';
import type { Room } from '../rooms/Room.ts';

/** Host or co-host, by the sender's own current role. */
export function authorizeModerator(by: Peer): void {
  if (!isModerator(by.role)) throw new SignalingError('FORBIDDEN', 'only hosts and co-hosts can do that');
}

/** Host only, and only in a meeting (a webinar's roles come from its links). */
export function authorizeHost(by: Peer, kind: RoomKind): void {
  if (by.role !== 'host') throw new SignalingError('FORBIDDEN', 'only the host can do that');
  if (kind !== 'meeting') throw new SignalingError('FORBIDDEN', 'webinar roles come from its links');
}

/** Someone else in the room whom the sender may act on: a co-host never acts against a host. */
export function targetOf(room: Room, by: Peer, peerId: string): Peer {
  const target = room.peers.get(peerId);
  if (!target) throw new SignalingError('PEER_NOT_FOUND', 'nobody with that id is in the room');
  if (target === by) throw new SignalingError('FORBIDDEN', 'not on yourself');
  if (target.role === 'host' && by.role !== 'host') throw new SignalingError('FORBIDDEN', 'co-hosts cannot act against a host');
  return target;
}
