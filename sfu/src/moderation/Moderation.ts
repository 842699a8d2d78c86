import type { Config } from '../../../config/index.ts';
import {
  type FileSharingPolicy,
  type LobbyEntry,
  type MediaSource,
  type RequestPayload,
  type Role,
  type RoomSettings,
  type ServerToClientEvents,
  isModerator,
} from '../../../shared/index.ts';
import type { JoinEntry } from '../access/Access.ts';
import type { RoomDirectory } from '../access/RoomDirectory.ts';
import { SignalingError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Attachment, Notify, Peer } from '../rooms/Peer.ts';
import type { Room } from '../rooms/Room.ts';
import { type Knocker, Lobby } from './Lobby.ts';
import { authorizeHost, authorizeModerator, targetOf } from './authorize.ts';

type ResumeRequest = NonNullable<RequestPayload<'join'>['resume']>;
type Answer = RequestPayload<'answerLobby'>;
/** Stored members do not keep who muted them. */
const SOMEONE = 'A host';

/** The joiner's connection: the lobby watches it, and tells it that it waits. */
export interface Joiner extends Knocker {
  notify: Notify;
}

/**
 * Host control over one room: who gets in (lock, lobby, identities restored from the store, the first
 * comer of an open meeting made host), and what hosts and co-hosts may do to the others. Every power
 * is checked against the sender's own role here, on the server. State that must survive a restart
 * (settings; hosts, co-hosts, host-muted and removed people) is written to the RoomDirectory only
 * when it changes, never on an ordinary join.
 */
export class Moderation {
  readonly #lobby = new Lobby();
  /** Peers a host muted, with the host's name; only the peer's own unmute clears it. */
  readonly #hostMuted = new WeakMap<Peer, string>();
  #settings: { locked: boolean; lobby: boolean };
  /** Who may share files, once a host has chosen; until then the server's files.whoMayShare. */
  #fileSharing: FileSharingPolicy | undefined;
  /** Joins admitted from the lobby whose peer is not in the room yet: they hold the room open too. */
  #admitting = 0;

  constructor(
    private readonly room: Room,
    private readonly directory: RoomDirectory,
    private readonly config: Config,
    private readonly logger: Logger,
  ) {
    const { fileSharing, ...settings } = directory.settings(room.id);
    this.#settings = settings;
    this.#fileSharing = fileSharing;
    this.#lobby.on('change', (waiting) => this.#toModerators('lobbyChanged', { waiting }));
    this.#lobby.on('gaveUp', () => room.closeIfEmpty());
  }

  get settings(): RoomSettings {
    return { ...this.#settings, fileSharing: this.#fileSharing ?? this.config.files.whoMayShare };
  }

  /** Someone waits in the lobby or is being let in: an empty room must not close under them. */
  get holdsRoomOpen(): boolean {
    return this.#lobby.size > 0 || this.#admitting > 0;
  }

  /** Who waits in the lobby now (for moderators' join replies). */
  waiting(): LobbyEntry[] {
    return this.#lobby.entries();
  }

  /**
   * Lets a new (not live-resumed) joiner in, or refuses them. A stored identity (its resume token
   * checked against the store) comes back with its role and host mute and passes lock and lobby; a
   * removed one is refused. Everyone else without a host grant meets the lock, then the lobby.
   */
  async admit(entry: JoinEntry, resume: ResumeRequest | undefined, attachment: Attachment, joiner: Joiner): Promise<Peer> {
    try {
      return await this.#admit(entry, resume, attachment, joiner);
    } catch (error) {
      this.room.closeIfEmpty(); // a refused join must not leave behind the room it made
      throw error;
    }
  }

  async #admit(entry: JoinEntry, resume: ResumeRequest | undefined, attachment: Attachment, joiner: Joiner): Promise<Peer> {
    const stored = resume && !this.room.peers.has(resume.peerId) ? this.directory.member(this.room.id, resume.peerId, resume.token) : undefined;
    if (stored?.removed) throw new SignalingError('REMOVED', 'a host removed you from this meeting');
    if (!stored && !entry.hostGrant) await this.#passDoor(entry, joiner);
    this.#admitting++;
    let peer: Peer;
    try {
      const role = this.#roleFor(entry, stored?.role);
      const identity = stored && resume ? { id: stored.peerId, resumeToken: resume.token } : undefined;
      peer = await this.room.addPeer(entry.displayName, attachment, role, identity);
    } finally {
      this.#admitting--;
    }
    if (stored?.micMuted) this.#hostMuted.set(peer, SOMEONE);
    if (isModerator(peer.role) && stored?.role !== peer.role) {
      try {
        this.#persist(peer);
      } catch (error) {
        // The person is in; only surviving a restart as host is lost, and the next change retries.
        this.logger.error({ err: error, peerId: peer.id }, 'cannot store a host');
      }
    }
    return peer;
  }

  /** The lock, then the lobby (meetings only): the join stays pending until a host answers. */
  async #passDoor(entry: JoinEntry, joiner: Joiner): Promise<void> {
    if (this.#settings.locked) throw new SignalingError('ROOM_LOCKED', 'this meeting is locked: nobody new can join');
    if (!this.#settings.lobby || this.room.kind !== 'meeting') return;
    this.#lobby.checkRoom();
    joiner.notify('lobbyWaiting', {});
    await this.#lobby.wait(entry.displayName, joiner);
  }

  /**
   * A host link (or host token) makes a host; a stored host or co-host comes back as one; in an open
   * meeting opened by id (no host link exists), whoever finds no host or co-host in the room becomes host.
   */
  #roleFor(entry: JoinEntry, storedRole: Role | undefined): Role {
    if (entry.role === 'host') return 'host';
    if (storedRole && isModerator(storedRole)) return storedRole;
    if (this.#isUnhostedOpenMeeting()) return 'host';
    return entry.role;
  }

  #isUnhostedOpenMeeting(): boolean {
    if (this.room.kind !== 'meeting' || this.config.access.policy !== 'open') return false;
    for (const peer of this.room.peers.values()) if (isModerator(peer.role)) return false;
    return this.directory.live(this.room.id)?.hostKeyHash === null;
  }

  /** Who muted this peer's `source` on the host's side, when a new producer must start paused. */
  hostMutedBy(peer: Peer, source: MediaSource): string | undefined {
    return source === 'microphone' ? this.#hostMuted.get(peer) : undefined;
  }

  /** The peer unmuted its own microphone: the host mute is over. */
  selfUnmuted(peer: Peer): void {
    if (this.#hostMuted.delete(peer)) this.#persist(peer);
  }

  async muteParticipant(by: Peer, peerId: string): Promise<void> {
    authorizeModerator(by);
    await this.#muteMicrophone(targetOf(this.room, by, peerId), by);
  }

  askToUnmute(by: Peer, peerId: string): void {
    authorizeModerator(by);
    targetOf(this.room, by, peerId).notify('unmuteRequested', { byName: by.displayName });
  }

  /** Camera: paused (they turn it back on). Screen share: stopped, with its audio. */
  async stopParticipantVideo(by: Peer, peerId: string, source: 'camera' | 'screen'): Promise<void> {
    authorizeModerator(by);
    const target = targetOf(this.room, by, peerId);
    if (source === 'camera') {
      const camera = target.producerFor('camera');
      if (!camera) return;
      if (!camera.paused) await this.room.setProducerPaused(target, camera.id, true);
    } else {
      const screen = [target.producerFor('screen'), target.producerFor('screen-audio')].filter((p) => p !== undefined);
      if (screen.length === 0) return;
      for (const producer of screen) this.room.closeProducer(target, producer.id);
    }
    target.notify('mutedByHost', { source, byName: by.displayName });
  }

  /** Every microphone but the moderators'; returns how many live microphones were paused. */
  async muteEveryone(by: Peer): Promise<number> {
    authorizeModerator(by);
    const targets = [...this.room.peers.values()].filter((peer) => peer.onStage && !isModerator(peer.role));
    const paused = await Promise.all(targets.map((peer) => this.#muteMicrophone(peer, by)));
    return paused.filter(Boolean).length;
  }

  /** They leave at once, and their identity (resume token) is refused from now on, across restarts. */
  removeParticipant(by: Peer, peerId: string): void {
    authorizeModerator(by);
    const target = targetOf(this.room, by, peerId);
    target.notify('roomClosed', { reason: 'removed', byName: by.displayName });
    this.#persist(target, true);
    this.room.removePeer(target);
  }

  setRoomSettings(by: Peer, changes: RequestPayload<'setRoomSettings'>): RoomSettings {
    authorizeModerator(by);
    if (changes.lobby && this.room.kind !== 'meeting') throw new SignalingError('FORBIDDEN', 'webinars have no lobby');
    const settings = { locked: changes.locked ?? this.#settings.locked, lobby: changes.lobby ?? this.#settings.lobby };
    const fileSharing = changes.fileSharing ?? this.#fileSharing;
    this.directory.saveSettings(this.room.id, { ...settings, fileSharing });
    this.#settings = settings;
    this.#fileSharing = fileSharing;
    const now = this.settings;
    for (const peer of this.room.peers.values()) peer.notify('roomSettings', { ...now, byName: by.displayName });
    if (!settings.lobby) this.#lobby.admit('all');
    return now;
  }

  setParticipantRole(by: Peer, peerId: string, role: 'cohost' | 'participant'): void {
    authorizeHost(by, this.room.kind);
    const target = targetOf(this.room, by, peerId);
    if (target.role === role) return;
    this.#setRole(target, role);
  }

  /** The target becomes host and the sender a co-host. */
  transferHost(by: Peer, peerId: string): void {
    authorizeHost(by, this.room.kind);
    const target = targetOf(this.room, by, peerId);
    this.#setRole(target, 'host');
    this.#setRole(by, 'cohost');
  }

  answerLobby(by: Peer, { entryIds, admit }: Answer): number {
    authorizeModerator(by);
    return admit ? this.#lobby.admit(entryIds) : this.#lobby.deny(entryIds);
  }

  /** Everyone leaves with `roomClosed: ended`; stored settings and hosts stay, so the links still work. */
  endMeeting(by: Peer): void {
    authorizeModerator(by);
    this.logger.info({ peerId: by.id }, 'meeting ended by a host');
    this.room.close('ended', by.displayName);
  }

  /** The room closed: whoever still waits is refused. */
  close(): void {
    this.#lobby.close();
  }

  #setRole(peer: Peer, role: Role): void {
    if (peer.role === role) return;
    this.room.setRole(peer, role);
    this.#persist(peer);
    if (isModerator(role)) peer.notify('lobbyChanged', { waiting: this.#lobby.entries() });
  }

  /** Pauses the microphone (if live) and marks the host mute; true when a live microphone was paused. */
  async #muteMicrophone(target: Peer, by: Peer): Promise<boolean> {
    const microphone = target.producerFor('microphone');
    const live = microphone !== undefined && !microphone.paused;
    if (live) await this.room.setProducerPaused(target, microphone.id, true);
    const alreadyMarked = this.#hostMuted.has(target);
    this.#hostMuted.set(target, by.displayName);
    target.notify('mutedByHost', { source: 'microphone', byName: by.displayName });
    if (!alreadyMarked) this.#persist(target);
    return live;
  }

  /** Stores the member while it carries moderation state, and forgets it once it carries none. */
  #persist(peer: Peer, removed = false): void {
    const micMuted = this.#hostMuted.has(peer);
    if (!removed && !micMuted && !isModerator(peer.role)) {
      this.directory.forgetMember(this.room.id, peer.id);
      return;
    }
    const { id: peerId, resumeToken: token, displayName, role } = peer;
    this.directory.saveMember(this.room.id, { peerId, token, displayName, role, micMuted, removed });
  }

  #toModerators<E extends keyof ServerToClientEvents>(event: E, ...args: Parameters<ServerToClientEvents[E]>): void {
    for (const peer of this.room.peers.values()) if (isModerator(peer.role)) peer.notify(event, ...args);
  }
}
