/**
 * One round of synthetic churn for the soak run, over real Socket.IO connections to the server:
 * meetings that open and close (join, publish a microphone and a simulcast camera, receive each
 * other, chat, raise hands, a host muting and promoting, a reconnect, a second tab, a dropped
 * connection left to its grace period), a meeting with a host link and a lobby that the host ends,
 * a webinar with viewers one of whom is brought onto the stage and back, and a few peers passing
 * through the browsers' meeting. Every connection of the round is closed before it returns.
 *
 * The synthetic peers publish with real RTP parameters (what a browser's mediasoup-client sends),
 * so the server creates every producer and consumer a browser peer would have; they do not complete
 * ICE/DTLS, so no RTP flows on their transports (the browsers' media does).
 */
import type { ReplyData, RequestName, RequestPayload } from '../../shared/index.ts';
import { TestClient } from '../helpers/client.ts';
import { type TestPeer, joinPeer } from '../helpers/meeting.ts';
import { opusParameters } from '../helpers/rtp-fixtures.ts';

export interface ChurnShape {
  /** Meetings opened (and closed) every round. */
  meetings: number;
  /** Peers in each of them. */
  peersPerMeeting: number;
  /** Viewers of the round's webinar (0: no webinar). */
  viewers: number;
  /** Peers passing through the browsers' meeting each round. */
  visitors: number;
}

export interface ChurnStats {
  joins: number;
  rounds: number;
  /** Failed requests by "request: code", to tell real refusals from noise. */
  failures: Map<string, number>;
}

/** The connections one round opened: all closed at its end, whatever failed. */
class RoundClients {
  readonly #clients = new Set<TestClient>();

  track<T extends { client: TestClient }>(peer: T): T {
    this.#clients.add(peer.client);
    return peer;
  }

  async connect(url: string): Promise<TestClient> {
    const client = await TestClient.connect(url);
    this.#clients.add(client);
    return client;
  }

  closeAll(): void {
    for (const client of this.#clients) client.close();
    this.#clients.clear();
  }
}

export class Churn {
  readonly stats: ChurnStats = { joins: 0, rounds: 0, failures: new Map() };
  #round = 0;

  constructor(
    private readonly url: string,
    private readonly shape: ChurnShape,
    /** The browsers' meeting, which visitors pass through. */
    private readonly browserRoomId: string | undefined,
  ) {}

  /** Runs one round; resolves when every request of it has been answered and every connection closed. */
  async round(): Promise<void> {
    const round = ++this.#round;
    const clients = new RoundClients();
    try {
      const work: Promise<unknown>[] = [];
      for (let i = 0; i < this.shape.meetings; i++) work.push(this.#meeting(clients, `soak-m${i}`, round, i === 0));
      work.push(this.#hostedMeeting(clients, round));
      if (this.shape.viewers > 0) work.push(this.#webinar(clients, round));
      if (this.browserRoomId && this.shape.visitors > 0) work.push(this.#visit(clients, this.browserRoomId, round));
      const results = await Promise.allSettled(work);
      for (const result of results) if (result.status === 'rejected') this.#fail('round', result.reason);
    } finally {
      clients.closeAll();
      this.stats.rounds++;
    }
  }

  /** An open meeting joined by id: the first comer is host. */
  async #meeting(clients: RoundClients, roomId: string, round: number, withAbandon: boolean): Promise<void> {
    const host = await this.#join(clients, roomId, `h${round}`, { publish: true, probeFirst: true });
    const others = await Promise.all(
      Array.from({ length: this.shape.peersPerMeeting - 1 }, (_, i) => this.#join(clients, roomId, `p${round}-${i}`, { publish: true })),
    );
    const everyone = [host, ...others];
    await Promise.all(everyone.map((peer, i) => this.#try(peer.client, 'sendChat', { text: `hello ${round}/${i}` })));
    await Promise.all(everyone.map((peer) => this.#resumeAll(peer)));
    const [first, second, third] = others;
    /** Connections another has taken over (or that were cut): they no longer speak for a peer. */
    const replaced = new Set<TestPeer>();
    if (first) {
      await this.#try(first.client, 'setHandRaised', { raised: true });
      await this.#try(host.client, 'muteParticipant', { peerId: first.join.peerId });
      await this.#try(host.client, 'askToUnmute', { peerId: first.join.peerId });
      if (first.producers.audio) await this.#try(first.client, 'setProducerPaused', { producerId: first.producers.audio, paused: false });
      await this.#try(first.client, 'setHandRaised', { raised: false });
    }
    if (second) {
      await this.#try(host.client, 'stopParticipantVideo', { peerId: second.join.peerId, source: 'camera' });
      await this.#try(host.client, 'setParticipantRole', { peerId: second.join.peerId, role: 'cohost' });
      await this.#try(host.client, 'setParticipantRole', { peerId: second.join.peerId, role: 'participant' });
      // A network blip: the connection drops and the same place is taken back with the transports kept.
      const resumed = await this.#reconnect(clients, roomId, second, true);
      replaced.add(second);
      if (resumed) await this.#try(resumed.client, 'leave', {});
    }
    if (third) {
      // A second tab takes the place over while the first is still connected.
      const tab = await this.#reconnect(clients, roomId, third, false);
      replaced.add(third);
      if (tab && third.producers.video) await this.#try(tab.client, 'closeProducer', { producerId: third.producers.video });
      if (tab) tab.client.close();
    }
    // Leaving three ways: `leave`, closing the socket, and (one peer a round) dropping and never coming back.
    for (const [i, peer] of everyone.entries()) {
      if (replaced.has(peer)) peer.client.close();
      else if (withAbandon && peer === first) peer.client.drop();
      else if (i % 2 === 0) await this.#try(peer.client, 'leave', {});
      else peer.client.close();
    }
  }

  /** A meeting made with a host link: the lobby is on, a knocker is admitted, then the host ends it. */
  async #hostedMeeting(clients: RoundClients, round: number): Promise<void> {
    const creator = await clients.connect(this.url);
    const keys = await this.#try(creator, 'createMeeting', {});
    creator.close();
    if (!keys) return;
    const host = await this.#join(clients, keys.roomId, `host${round}`, { publish: true, key: keys.hostKey });
    await this.#try(host.client, 'setRoomSettings', { lobby: true });
    const knocker = await clients.connect(this.url);
    const pending = knocker.send('join', { roomId: keys.roomId, displayName: `knock${round}` });
    try {
      const { waiting } = await host.client.waitFor('lobbyChanged', (event) => event.waiting.length > 0);
      await this.#try(host.client, 'answerLobby', { entryIds: waiting.map((entry) => entry.id), admit: true });
    } catch (error) {
      this.#fail('lobby', error);
    }
    const reply = await pending;
    if (reply.ok) this.stats.joins++;
    else this.#count(`join (lobby): ${reply.error.code}`);
    await this.#try(host.client, 'endMeeting', {});
  }

  /** A webinar: the host publishes, viewers watch; one raises a hand, is invited on stage, speaks, and is sent back. */
  async #webinar(clients: RoundClients, round: number): Promise<void> {
    const creator = await clients.connect(this.url);
    const keys = await this.#try(creator, 'createWebinar', {});
    creator.close();
    if (!keys) return;
    const host = await this.#join(clients, keys.roomId, `wh${round}`, { publish: true, key: keys.hostKey });
    const viewers = await Promise.all(
      Array.from({ length: this.shape.viewers }, (_, i) => this.#join(clients, keys.roomId, `v${round}-${i}`, { key: keys.audienceKey })),
    );
    await Promise.all(viewers.map((viewer) => this.#resumeAll(viewer)));
    const [guest] = viewers;
    if (guest) {
      await this.#try(guest.client, 'setHandRaised', { raised: true });
      await this.#try(host.client, 'inviteToStage', { peerId: guest.join.peerId });
      await this.#try(guest.client, 'answerStageInvite', { accept: true });
      const send = await this.#try(guest.client, 'createTransport', { direction: 'send' });
      if (send) {
        await this.#try(guest.client, 'produce', {
          transportId: send.id,
          kind: 'audio',
          source: 'microphone',
          rtpParameters: opusParameters('0', 30_000_000 + round),
        });
      }
      await this.#try(host.client, 'moveToAudience', { peerId: guest.join.peerId });
    }
    await this.#try(host.client, 'sendChat', { text: `webinar ${round}` });
    for (const viewer of viewers) viewer.client.close();
    await this.#try(host.client, 'leave', {});
  }

  /** Peers passing through the meeting the browsers hold: the browsers receive them and lose them again. */
  async #visit(clients: RoundClients, roomId: string, round: number): Promise<void> {
    const visitors = await Promise.all(
      Array.from({ length: this.shape.visitors }, (_, i) => this.#join(clients, roomId, `visitor${round}-${i}`, { publish: true })),
    );
    await Promise.all(visitors.map((visitor) => this.#resumeAll(visitor)));
    await Promise.all(visitors.map((visitor) => this.#try(visitor.client, 'sendChat', { text: `visiting ${round}` })));
    for (const visitor of visitors) visitor.client.close();
  }

  async #join(
    clients: RoundClients,
    roomId: string,
    displayName: string,
    options: { publish?: boolean; key?: string; probeFirst?: boolean },
  ): Promise<TestPeer> {
    if (options.probeFirst) {
      // A pre-join connectivity check on its own connection: its probe transports must close with it.
      const prober = await clients.connect(this.url);
      await this.#try(prober, 'checkConnectivity', {});
      prober.close();
    }
    try {
      const peer = clients.track(
        await joinPeer(this.url, roomId, displayName, { publish: options.publish ?? false, ...(options.key ? { key: options.key } : {}) }),
      );
      this.stats.joins++;
      return peer;
    } catch (error) {
      this.#fail('join', error);
      throw error;
    }
  }

  /** Resumes every consumer the server made for this peer, as a client does once it has the track. */
  async #resumeAll(peer: TestPeer): Promise<void> {
    for (const consumer of peer.client.consumersAdded()) {
      await this.#try(peer.client, 'resumeConsumer', { consumerId: consumer.id }, ['CONSUMER_NOT_FOUND']);
    }
  }

  /** Takes the peer's place on a new connection, keeping its transports; `drop` first cuts the old one. */
  async #reconnect(clients: RoundClients, roomId: string, peer: TestPeer, drop: boolean): Promise<TestPeer | undefined> {
    if (drop) peer.client.drop();
    const transportIds = [peer.recvTransportId, peer.sendTransportId].filter((id): id is string => id !== undefined);
    try {
      const resumed = clients.track(
        await joinPeer(this.url, roomId, `${peer.join.self.displayName}'`, {
          ready: false,
          resume: { peerId: peer.join.peerId, token: peer.join.resumeToken, transportIds },
        }),
      );
      this.stats.joins++;
      if (!resumed.join.resumed) this.#count('resume: joined afresh');
      return resumed;
    } catch (error) {
      this.#fail('resume', error);
      return undefined;
    }
  }

  /** Sends a request; a refusal is counted (unless expected) rather than thrown. */
  async #try<N extends RequestName>(
    client: TestClient,
    name: N,
    payload: RequestPayload<N>,
    expected: string[] = [],
  ): Promise<ReplyData[N] | undefined> {
    try {
      const reply = await client.send(name, payload);
      if (reply.ok) return reply.data;
      if (!expected.includes(reply.error.code)) this.#count(`${name}: ${reply.error.code}`);
    } catch (error) {
      this.#fail(name, error);
    }
    return undefined;
  }

  #fail(what: string, error: unknown): void {
    this.#count(`${what}: ${error instanceof Error ? error.message.slice(0, 80) : String(error)}`);
  }

  #count(key: string): void {
    this.stats.failures.set(key, (this.stats.failures.get(key) ?? 0) + 1);
  }
}
