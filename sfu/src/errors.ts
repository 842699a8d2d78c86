import type { ErrorBody, ErrorCode, Redirect } from '../../shared/index.ts';

/** The one error type a handler throws to send a failed reply with a stable code. */
export class SignalingError extends Error {
  override name = 'SignalingError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** WRONG_NODE only: where the room is served. */
    readonly redirect?: Redirect,
  ) {
    super(message);
  }

  toBody(): ErrorBody {
    return { code: this.code, message: this.message, ...(this.redirect ? { redirect: this.redirect } : {}) };
  }
}
