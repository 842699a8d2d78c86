/** The store's key names for one cluster, all under one prefix so that clusters can share a server. */
export function clusterKeys(prefix: string) {
  return {
    /** Sorted set: node id → when its record expires (ms since the epoch). */
    nodes: `${prefix}:nodes`,
    /** One node's record (JSON), expiring with its heartbeat. */
    node: (id: string) => `${prefix}:node:${id}`,
    /** Hash: owner (node id) and epoch of a room's lease; the key expires with the lease. */
    lease: (roomId: string) => `${prefix}:lease:${roomId}`,
    /** Counter: the last epoch handed out for a room. Never expires, so epochs only grow. */
    epoch: (roomId: string) => `${prefix}:epoch:${roomId}`,
    /** Hash: what the room's owner wrote (fenced by epoch). */
    state: (roomId: string) => `${prefix}:room:${roomId}`,
  };
}
