import { SignalingError } from '../errors.ts';
import type { Room } from './Room.ts';

/** Where a join is served: here as the room's owner, or here as an edge of the node that owns it. */
export interface Placed {
  /**
   * Cluster mode: another node owns this webinar, and this node may serve its audience. A viewer's
   * join opens (or reuses) the edge room; anyone else is sent to the owner.
   */
  edge?: {
    open(): Promise<Room>;
    toOwner(): Promise<SignalingError>;
  };
}

/**
 * Which node serves a room. One process serves every room it is asked for; in cluster mode
 * (`sfu/src/cluster/`) a room belongs to one node at a time, and a join elsewhere is sent there.
 * The signaling handlers only see this interface, so the single-node path carries no cluster code.
 */
export interface RoomPlacement {
  /**
   * Resolves once this node may serve the room (it holds the room's lease and its stored state).
   * Throws WRONG_NODE with a redirect when another node serves it, INVALID_REDIRECT or
   * REDIRECT_EXPIRED for a bad pass, CLUSTER_UNAVAILABLE when the store cannot be reached.
   */
  place(roomId: string, redirect: string | undefined): Promise<Placed>;
  /**
   * A viewer is about to be served by the webinar's owner (this node). Cluster mode may send it to a
   * less loaded node, which serves it as an edge (throws WRONG_NODE); `passed`: it came with a pass.
   */
  spreadViewer(roomId: string, passed: boolean): Promise<void>;
  /** A room was created here (its links were handed out): make it known to every node. */
  created(roomId: string): Promise<void>;
  /** The base URLs of the live nodes, this one first, for the join reply; undefined on one node. */
  nodes(): string[] | undefined;
}

/** One process: every room is served here, and a redirect pass means nothing. */
export const singleNode: RoomPlacement = {
  async place(_roomId, redirect) {
    if (redirect !== undefined) throw new SignalingError('INVALID_REDIRECT', 'this server is not part of a cluster');
    return {};
  },
  async spreadViewer() {},
  async created() {},
  nodes: () => undefined,
};
