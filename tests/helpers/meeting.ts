import type { JoinReply } from '../../shared/index.ts';
import { TestClient } from './client.ts';
import { opusParameters, vp8SimulcastParameters } from './rtp-fixtures.ts';

export interface TestPeer {
  client: TestClient;
  join: JoinReply;
  recvTransportId?: string;
  sendTransportId?: string;
  producers: { audio?: string; video?: string };
}

let ssrcSeed = 20000000;

/** Joins, and optionally becomes ready to receive and publishes mic + simulcast camera. */
export async function joinPeer(
  url: string,
  roomId: string,
  displayName: string,
  options: {
    ready?: boolean;
    publish?: boolean;
    resume?: { peerId: string; token: string; transportIds: string[] };
    /** Webinar link key. */
    key?: string;
  } = {},
): Promise<TestPeer> {
  const client = await TestClient.connect(url);
  const join = await client.ok('join', {
    roomId,
    displayName,
    ...(options.resume ? { resume: options.resume } : {}),
    ...(options.key ? { key: options.key } : {}),
  });
  return setUpPeer(client, join, options);
}

/** After the join: a receive transport and `ready` (unless `ready` is false), and published media. */
export async function setUpPeer(client: TestClient, join: JoinReply, options: { ready?: boolean; publish?: boolean } = {}): Promise<TestPeer> {
  const peer: TestPeer = { client, join, producers: {} };
  if (options.ready ?? true) {
    peer.recvTransportId = (await client.ok('createTransport', { direction: 'recv' })).id;
    await client.ok('ready', { rtpCapabilities: join.routerRtpCapabilities });
  }
  if (options.publish) {
    peer.sendTransportId = (await client.ok('createTransport', { direction: 'send' })).id;
    peer.producers.audio = (
      await client.ok('produce', { transportId: peer.sendTransportId, kind: 'audio', source: 'microphone', rtpParameters: opusParameters('1', ssrcSeed++) })
    ).producerId;
    peer.producers.video = (
      await client.ok('produce', { transportId: peer.sendTransportId, kind: 'video', source: 'camera', rtpParameters: vp8SimulcastParameters('0') })
    ).producerId;
  }
  return peer;
}
