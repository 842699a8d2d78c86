import { readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';

/** What scripts/build-mediasoup-worker.sh records beside the worker binary it builds. */
interface WorkerBuildInfo {
  mediasoup?: string;
  srtpCrypto?: 'openssl' | 'nss';
  libsrtp?: string;
  liburing?: boolean;
}

/** The media engine as running: printed at startup so that a slow SRTP build or io_uring off shows. */
export interface EngineInfo {
  mediasoup: string;
  workerBin: string;
  /** The libsrtp crypto backend, 'unknown' for a worker not built by our script (e.g. upstream's prebuilt). */
  srtpCrypto: string;
  libsrtp: string;
  /** 'on' when the running worker reports io_uring statistics; otherwise why not. */
  ioUring: 'on' | 'off (not built in)' | 'off (kernel or settings)';
}

function readBuildInfo(workerBin: string): WorkerBuildInfo | undefined {
  try {
    return JSON.parse(readFileSync(join(dirname(realpathSync(workerBin)), 'build-info.json'), 'utf8')) as WorkerBuildInfo;
  } catch {
    return undefined; // a worker from elsewhere: its build is simply not known
  }
}

export async function engineInfo(worker: types.Worker): Promise<EngineInfo> {
  const workerBin = mediasoup.workerBin;
  const build = readBuildInfo(workerBin);
  const dump = await worker.dump();
  let ioUring: EngineInfo['ioUring'] = 'off (kernel or settings)';
  if (dump.liburing) ioUring = 'on';
  else if (build?.liburing === false) ioUring = 'off (not built in)';
  return {
    mediasoup: mediasoup.version,
    workerBin,
    srtpCrypto: build?.srtpCrypto ?? 'unknown',
    libsrtp: build?.libsrtp ?? 'unknown',
    ioUring,
  };
}
