/**
 * How a client reaches the SFU's media: the ICE servers (TURN with time-limited credentials) it is
 * handed, and the pre-join connectivity check that tells a person what their network allows.
 */

/** As RTCIceServer takes it; TURN entries carry TURN REST credentials (`expiry:id`, HMAC-SHA1). */
export interface IceServer {
  urls: string[];
  username?: string;
  credential?: string;
}

export interface NetworkSettings {
  iceServers: IceServer[];
  /** `relay`: the server's operator wants every client to send media only through TURN. */
  iceTransportPolicy: 'all' | 'relay';
  /** Epoch ms when the TURN credentials stop working; null without TURN. Refresh before then. */
  iceServersExpireAt: number | null;
}

/** The paths a pre-join check tries; each is its own transport on the server. */
export const PROBE_PATHS = ['udp', 'tcp', 'relay'] as const;
export type ProbePath = (typeof PROBE_PATHS)[number];

/** How long probe transports live on the server before they are closed unasked. */
export const PROBE_LIFETIME_MS = 20_000;
