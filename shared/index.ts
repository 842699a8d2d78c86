export * from './errors.ts';
export * from './limits.ts';
export * from './media.ts';
export * from './moderation.ts';
export * from './network.ts';
export * from './recording.ts';
export * from './rtp-schemas.ts';
export * from './signaling.ts';
