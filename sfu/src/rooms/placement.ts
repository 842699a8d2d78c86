import { SignalingError } from '../errors.ts';

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
  place(roomId: string, redirect: string | undefined): Promise<void>;
  /** A room was created here (its links were handed out): make it known to every node. */
  created(roomId: string): Promise<void>;
  /** The base URLs of the live nodes, this one first, for the join reply; undefined on one node. */
  nodes(): string[] | undefined;
}

/** One process: every room is served here, and a redirect pass means nothing. */
export const singleNode: RoomPlacement = {
  async place(_roomId, redirect) {
    if (redirect !== undefined) throw new SignalingError('INVALID_REDIRECT', 'this server is not part of a cluster');
  },
  async created() {},
  nodes: () => undefined,
};
