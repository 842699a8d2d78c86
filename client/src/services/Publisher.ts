import type { Device, types } from 'mediasoup-client';
import type { ClientSettings, MediaSource } from '../../../shared/index.ts';
import { CAMERA_CODEC_OPTIONS, SCREEN_CONSTRAINTS, cameraConstraints, encodingsFor } from './simulcast.ts';
import { type SignalingSocket, request } from './signaling.ts';
import type { IceServers } from './IceServers.ts';
import { createTransport, restartIce } from './transport.ts';

export interface LocalSourceState {
  /** Key for MediaSession.track(); absent while there is no live local track (camera off). */
  trackKey?: string;
  paused: boolean;
}

export interface PublisherListener {
  onLocalSource(source: MediaSource, state: LocalSourceState | undefined): void;
}

/**
 * The sending half of a session: the send transport, this person's producers and their tracks.
 * Mute and camera-off pause the producer both here and on the server, so everyone sees the state;
 * camera-off also stops the camera so its light goes out.
 */
export class Publisher {
  #transport: types.Transport | undefined;
  /** The send transport being made: publishing and file sharing may both ask for it at once. */
  #transportPending: Promise<types.Transport> | undefined;
  readonly #producers = new Map<MediaSource, types.Producer>();
  readonly #devices: { camera?: string; microphone?: string } = {};
  #cameraHeight: number | undefined;

  constructor(
    private readonly socket: () => SignalingSocket,
    private readonly device: () => Device,
    private readonly settings: () => ClientSettings | undefined,
    private readonly ice: IceServers,
    private readonly tracks: Map<string, MediaStreamTrack>,
    private readonly listener: PublisherListener,
  ) {}

  get transport(): types.Transport | undefined {
    return this.#transport;
  }

  get producers(): ReadonlyMap<MediaSource, types.Producer> {
    return this.#producers;
  }

  setCameraHeight(height: number | undefined): void {
    this.#cameraHeight = height;
  }

  /** `paused`: the producer starts paused on the server too, so nobody sees or hears it until resumed. */
  async publish(source: MediaSource, track: MediaStreamTrack, paused = false): Promise<void> {
    const transport = await this.sendTransport();
    const encodings = encodingsFor(source, this.settings());
    const opus = this.settings()?.opus ?? { dtx: true, fec: true };
    const producer = await transport.produce({
      track,
      ...(encodings ? { encodings } : {}),
      ...(source === 'camera' ? { codecOptions: CAMERA_CODEC_OPTIONS } : {}),
      ...(source === 'microphone' ? { codecOptions: { opusStereo: false, opusDtx: opus.dtx, opusFec: opus.fec } } : {}),
      appData: { source, paused },
      stopTracks: false,
      zeroRtpOnPause: true,
    });
    this.#producers.set(source, producer);
    this.tracks.set(`local:${source}`, track);
    // The device went away (unplugged, or the browser's own "stop sharing" button).
    producer.on('trackended', () => {
      if (source === 'screen' || source === 'screen-audio') void this.stopScreenShare();
      else if (source === 'camera') void this.setCameraEnabled(false);
      else void this.setPaused('microphone', true);
    });
    if (paused) producer.pause(); // the server made it paused already
    this.#announce(source);
  }

  async setPaused(source: MediaSource, paused: boolean): Promise<void> {
    const producer = this.#producers.get(source);
    if (!producer || producer.paused === paused) return;
    if (paused) producer.pause();
    else producer.resume();
    await request(this.socket(), 'setProducerPaused', { producerId: producer.id, paused });
    this.#announce(source);
  }

  /**
   * Dynacast: stop encoding the simulcast layers above `maxSpatialLayer` (all of them at -1), because
   * nobody receives them; they come back when the server asks for them again.
   */
  async limitLayers(producerId: string, maxSpatialLayer: number): Promise<void> {
    const producer = [...this.#producers.values()].find((p) => p.id === producerId);
    const sender = producer?.rtpSender;
    if (!sender) return;
    const parameters = sender.getParameters();
    if (!parameters.encodings?.length) return;
    parameters.encodings.forEach((encoding, layer) => (encoding.active = layer <= maxSpatialLayer));
    await sender.setParameters(parameters);
  }

  /** Which camera layers the browser is encoding right now (from the sender itself). */
  cameraLayersActive(): boolean[] {
    const encodings = this.#producers.get('camera')?.rtpSender?.getParameters().encodings ?? [];
    return encodings.map((encoding) => encoding.active !== false);
  }

  /** Camera off releases the camera; on opens it again (on the chosen device) and resumes. */
  async setCameraEnabled(enabled: boolean): Promise<void> {
    const producer = this.#producers.get('camera');
    if (!enabled) {
      if (!producer) return;
      await this.setPaused('camera', true);
      producer.track?.stop();
      this.tracks.delete('local:camera');
      this.#announce('camera');
      return;
    }
    const track = await this.#openCamera();
    if (!producer) return this.publish('camera', track);
    await producer.replaceTrack({ track });
    this.tracks.set('local:camera', track);
    await this.setPaused('camera', false);
    this.#announce('camera');
  }

  async switchDevice(kind: 'camera' | 'microphone', deviceId: string): Promise<void> {
    this.#devices[kind] = deviceId;
    const producer = this.#producers.get(kind);
    if (!producer) return;
    if (kind === 'camera' && !this.tracks.has('local:camera')) return; // camera is off: used when turned on
    const track =
      kind === 'camera'
        ? await this.#openCamera()
        : (await navigator.mediaDevices.getUserMedia({ audio: { deviceId: { exact: deviceId }, echoCancellation: true, noiseSuppression: true } })).getAudioTracks()[0]!;
    const old = producer.track;
    await producer.replaceTrack({ track });
    old?.stop();
    this.tracks.set(`local:${kind}`, track);
    this.#announce(kind);
  }

  async startScreenShare(): Promise<void> {
    if (this.#producers.has('screen')) return;
    const stream = await navigator.mediaDevices.getDisplayMedia(SCREEN_CONSTRAINTS);
    const video = stream.getVideoTracks()[0];
    if (!video) return;
    video.contentHint = 'detail';
    await this.publish('screen', video);
    const audio = stream.getAudioTracks()[0];
    if (audio) await this.publish('screen-audio', audio);
  }

  async stopScreenShare(): Promise<void> {
    for (const source of ['screen', 'screen-audio'] as const) {
      const producer = this.#producers.get(source);
      if (!producer) continue;
      this.#producers.delete(source);
      producer.close();
      producer.track?.stop();
      this.tracks.delete(`local:${source}`);
      this.listener.onLocalSource(source, undefined);
      await request(this.socket(), 'closeProducer', { producerId: producer.id }).catch((error: unknown) =>
        console.warn('closing the screen share on the server failed', error),
      );
    }
  }

  /**
   * After a reconnection or a media reset: keep the transport if the server still has it (new ICE
   * credentials), otherwise publish the same tracks again, in the same paused state, on a new transport.
   */
  async recover(serverTransportIds: string[]): Promise<void> {
    if (this.#transport && serverTransportIds.includes(this.#transport.id)) {
      await restartIce(this.socket(), this.#transport);
      return;
    }
    const previous = [...this.#producers.entries()].map(([source, producer]) => ({ source, track: producer.track, paused: producer.paused }));
    this.#transport?.close();
    this.#transport = undefined;
    this.#producers.clear();
    for (const { source, track, paused } of previous) {
      if (track && track.readyState === 'live') await this.publish(source, track, paused);
      else if (source === 'camera') this.listener.onLocalSource('camera', { paused: true });
    }
  }

  close(): void {
    this.#transport?.close();
    for (const producer of this.#producers.values()) producer.track?.stop();
    this.#producers.clear();
    this.#transport = undefined;
  }

  /** The send transport, made on first use: publishing media, or sharing a file. */
  sendTransport(): Promise<types.Transport> {
    if (this.#transport) return Promise.resolve(this.#transport);
    this.#transportPending ??= (async () => {
      try {
        const info = await request(this.socket(), 'createTransport', { direction: 'send' });
        this.#transport = createTransport(this.device(), this.socket(), info, this.ice.options);
        return this.#transport;
      } finally {
        this.#transportPending = undefined;
      }
    })();
    return this.#transportPending;
  }

  async #openCamera(): Promise<MediaStreamTrack> {
    const stream = await navigator.mediaDevices.getUserMedia({ video: cameraConstraints(this.#cameraHeight, this.#devices.camera) });
    return stream.getVideoTracks()[0]!;
  }

  #announce(source: MediaSource): void {
    const producer = this.#producers.get(source);
    const trackKey = this.tracks.has(`local:${source}`) ? `local:${source}` : undefined;
    this.listener.onLocalSource(source, producer ? { ...(trackKey ? { trackKey } : {}), paused: producer.paused } : undefined);
  }
}
