/**
 * Recordings over HTTP. Files are fetched with the signed links the recordings list hands out (see
 * download-links.ts), always as attachments. Hosts' scripts can list a room's recordings, after the
 * meeting too, with the host key as a bearer token: `GET /api/rooms/<id>/recordings`.
 */
import { createReadStream, statSync } from 'node:fs';
import path from 'node:path';
import type { ServerResponse } from 'node:http';
import { roomIdSchema } from '../../../shared/index.ts';
import type { RoomDirectory } from '../access/RoomDirectory.ts';
import { RECORDINGS_PATH } from '../recording/download-links.ts';
import type { Recordings } from '../recording/Recordings.ts';
import { type RequestHandler, bearerToken, sendJson } from './operations.ts';

const CONTENT_TYPES: Record<string, string> = { '.webm': 'video/webm', '.mkv': 'video/x-matroska', '.mp4': 'video/mp4', '.json': 'application/json' };
const LIST_PATH = /^\/api\/rooms\/([^/]+)\/recordings$/;

/** A JSON answer; true, the request is handled. */
function answer(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): true {
  sendJson(res, status, body, headers);
  return true;
}

export function recordingsHandler(recordings: Recordings, directory: RoomDirectory): RequestHandler {
  return async (req, res) => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://x');
    } catch {
      return false;
    }
    const list = LIST_PATH.exec(url.pathname);
    if (list) {
      if (req.method !== 'GET') return answer(res, 405, { error: 'GET only' }, { allow: 'GET' });
      const roomId = roomIdSchema.safeParse(decodeURIComponentSafe(list[1]!));
      const key = bearerToken(req.headers.authorization);
      let role: string | undefined;
      try {
        role = roomId.success ? directory.roleFor(roomId.data, key) : undefined;
      } catch {
        role = undefined; // a wrong key and a missing room look the same from outside
      }
      if (!roomId.success || role !== 'host') {
        return answer(res, 401, { error: "the room's host key is required, as a bearer token" }, { 'www-authenticate': 'Bearer' });
      }
      return answer(res, 200, { recordings: recordings.list(roomId.data) });
    }
    if (!url.pathname.startsWith(`${RECORDINGS_PATH}/`)) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') return answer(res, 405, { error: 'GET only' }, { allow: 'GET, HEAD' });
    const target = recordings.links.verify(url.pathname, url.searchParams);
    if (target === 'expired') return answer(res, 410, { error: 'this download link has expired: open the recordings list again' });
    const file = target && recordings.fileFor(target);
    if (!file) return answer(res, 404, { error: 'no such recording file (or the link is not valid)' });
    const size = statSync(file).size;
    res.writeHead(200, {
      // Always a download, never shown in the page: the type is ours, the browser must not guess.
      'content-type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream',
      'content-length': String(size),
      'content-disposition': `attachment; filename="${path.basename(file)}"`,
      'x-content-type-options': 'nosniff',
      'cache-control': 'private, no-store',
    });
    if (req.method === 'HEAD') {
      res.end();
      return true;
    }
    await new Promise<void>((resolve) => {
      const stream = createReadStream(file);
      stream.once('error', () => {
        res.destroy();
        resolve();
      });
      res.once('close', () => {
        stream.destroy();
        resolve();
      });
      stream.pipe(res);
    });
    return true;
  };
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return '';
  }
}
