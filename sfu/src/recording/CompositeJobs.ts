/**
 * Composite renders as background jobs: a queue shared by every room, a few at a time (each ffmpeg
 * uses every core it can get), niced so that live meetings keep the CPU they need. A job reads the
 * recording's manifest and track files and writes `composite-<layout>.mp4` beside them: first under a
 * `.part` name, renamed when complete, so a file with the final name is always whole.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CompositeLayout, CompositeStatus } from '../../../shared/index.ts';
import type { Logger } from '../logger.ts';
import { TypedEmitter } from '../typed-emitter.ts';
import { FILTER_SCRIPT, compositeCommand } from './composite-graph.ts';
import { fileSize, readManifest, recordingDurationMs } from './manifest.ts';
import { spawnTied } from './tied-process.ts';

/** Lower than the server (0) and its media workers: a render only gets what meetings leave. */
const RENDER_NICENESS = 10;

export function compositeFile(layout: CompositeLayout): string {
  return `composite-${layout}.mp4`;
}

interface Job {
  folder: string;
  layout: CompositeLayout;
  status: CompositeStatus;
  process?: ChildProcess;
}

type CompositeJobsEvents = {
  /** A job was queued, made progress, finished or failed. */
  changed: [folder: string, status: CompositeStatus];
};

export class CompositeJobs extends TypedEmitter<CompositeJobsEvents> {
  readonly #jobs = new Map<string, Job>();
  readonly #queue: Job[] = [];
  #running = 0;
  #closed = false;

  constructor(
    private readonly options: { ffmpeg: string; concurrency: number; logger: Logger },
  ) {
    super();
  }

  static key(folder: string, layout: CompositeLayout): string {
    return `${folder}\n${layout}`;
  }

  /** The job for a recording and layout, if one was queued since the server started. */
  status(folder: string, layout: CompositeLayout): CompositeStatus | undefined {
    return this.#jobs.get(CompositeJobs.key(folder, layout))?.status;
  }

  /** Queues a render, unless one for this recording and layout is queued or running already. */
  enqueue(folder: string, layout: CompositeLayout): CompositeStatus {
    const key = CompositeJobs.key(folder, layout);
    const existing = this.#jobs.get(key);
    if (existing && (existing.status.state === 'queued' || existing.status.state === 'rendering')) return existing.status;
    const job: Job = { folder, layout, status: { layout, state: 'queued', progress: 0 } };
    this.#jobs.set(key, job);
    this.#queue.push(job);
    this.emit('changed', folder, job.status);
    this.#next();
    return job.status;
  }

  /** Cancels a recording's jobs (it is being deleted). */
  cancel(folder: string): void {
    for (const [key, job] of this.#jobs) {
      if (job.folder !== folder) continue;
      this.#jobs.delete(key);
      const queued = this.#queue.indexOf(job);
      if (queued >= 0) this.#queue.splice(queued, 1);
      job.process?.kill('SIGKILL');
    }
  }

  /** Waits for a job to end (tests, benchmarks). */
  async settled(folder: string, layout: CompositeLayout): Promise<CompositeStatus> {
    const current = this.status(folder, layout);
    if (!current) throw new Error('no such composite job');
    if (current.state === 'done' || current.state === 'failed') return current;
    return new Promise((resolve) => {
      const onChange = (changedFolder: string, status: CompositeStatus) => {
        if (changedFolder !== folder || status.layout !== layout || (status.state !== 'done' && status.state !== 'failed')) return;
        this.off('changed', onChange);
        resolve(status);
      };
      this.on('changed', onChange);
    });
  }

  close(): void {
    this.#closed = true;
    this.#queue.length = 0;
    for (const job of this.#jobs.values()) job.process?.kill('SIGKILL');
  }

  #next(): void {
    while (!this.#closed && this.#running < this.options.concurrency && this.#queue.length > 0) {
      const job = this.#queue.shift()!;
      this.#running += 1;
      void this.#render(job).finally(() => {
        this.#running -= 1;
        this.#next();
      });
    }
  }

  #update(job: Job, status: Partial<CompositeStatus>): void {
    job.status = { ...job.status, ...status };
    if (this.#jobs.get(CompositeJobs.key(job.folder, job.layout)) === job) this.emit('changed', job.folder, job.status);
  }

  async #render(job: Job): Promise<void> {
    const output = compositeFile(job.layout);
    const partial = output.replace(/\.mp4$/, '.part.mp4');
    const started = Date.now();
    try {
      const manifest = readManifest(job.folder);
      const inputs = manifest.tracks
        .filter((track) => fileSize(path.join(job.folder, track.file)) > 0) // a recorder that never wrote
        .map((track) => ({ track, path: track.file }));
      const durationMs = recordingDurationMs(job.folder, manifest);
      if (durationMs <= 0) throw new Error('the recording has no length');
      const command = compositeCommand({ manifest, inputs, durationMs, layout: job.layout, output: partial });
      writeFileSync(path.join(job.folder, FILTER_SCRIPT), command.filterScript);
      for (const label of command.labels) writeFileSync(path.join(job.folder, label.path), label.text);
      this.#update(job, { state: 'rendering', progress: 0 });
      const stderr = await this.#run(job, command.args, command.durationSeconds);
      if (!this.#jobs.has(CompositeJobs.key(job.folder, job.layout))) return; // cancelled
      if (stderr !== undefined) throw new Error(stderr.trim().split('\n').slice(-3).join(' ') || 'ffmpeg failed');
      renameSync(path.join(job.folder, partial), path.join(job.folder, output));
      const renderMs = Date.now() - started;
      this.options.logger.info({ folder: job.folder, layout: job.layout, renderMs, speed: Number((durationMs / renderMs).toFixed(2)) }, 'composite rendered');
      this.#update(job, { state: 'done', progress: 1, renderMs });
    } catch (error) {
      rmSync(path.join(job.folder, partial), { force: true });
      const message = error instanceof Error ? error.message : String(error);
      this.options.logger.warn({ folder: job.folder, layout: job.layout, err: error }, 'composite render failed');
      this.#update(job, { state: 'failed', error: message.slice(0, 300) });
    } finally {
      rmSync(path.join(job.folder, FILTER_SCRIPT), { force: true });
      removeLabels(job.folder);
    }
  }

  /** Runs ffmpeg in the folder; resolves with undefined on success, or its last error output. */
  #run(job: Job, args: string[], durationSeconds: number): Promise<string | undefined> {
    return new Promise((resolve) => {
      const ffmpeg = spawnTied(this.options.ffmpeg, args, { cwd: job.folder, stdio: ['ignore', 'pipe', 'pipe'] });
      job.process = ffmpeg;
      if (ffmpeg.pid !== undefined) {
        try {
          os.setPriority(ffmpeg.pid, RENDER_NICENESS);
        } catch (error) {
          this.options.logger.debug({ err: error }, 'cannot lower the render priority');
        }
      }
      let stderr = '';
      let pending = '';
      ffmpeg.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4_000)));
      // -progress writes key=value lines; out_time_us is how far the output has got.
      ffmpeg.stdout!.on('data', (chunk: Buffer) => {
        pending += chunk.toString();
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) {
          const match = /^out_time_us=(\d+)/.exec(line);
          if (match && durationSeconds > 0) {
            const progress = Math.min(0.99, Number(match[1]) / 1e6 / durationSeconds);
            if (progress - job.status.progress >= 0.01) this.#update(job, { progress: Number(progress.toFixed(3)) });
          }
        }
      });
      ffmpeg.once('error', (error) => resolve(error.message));
      ffmpeg.once('close', (code) => resolve(code === 0 ? undefined : stderr || `ffmpeg exited with ${String(code)}`));
    });
  }
}

function removeLabels(folder: string): void {
  for (let i = 0; existsSync(path.join(folder, `composite-label-${i}.txt`)); i += 1) rmSync(path.join(folder, `composite-label-${i}.txt`), { force: true });
}
