/**
 * Things to close at the end of a run, closed in reverse order of opening (receivers before the server,
 * the server before the sink), each even if an earlier one failed.
 */
import { progress } from './cli.ts';

export class Cleanup {
  readonly #steps: { what: string; close: () => void | Promise<void> }[] = [];

  constructor(private readonly tool: string) {}

  add(what: string, close: () => void | Promise<void>): void {
    this.#steps.push({ what, close });
  }

  async run(): Promise<void> {
    for (const { what, close } of this.#steps.splice(0).reverse()) {
      try {
        await close();
      } catch (error) {
        // Keep closing the rest: a failed close must not leave ffmpeg or a browser running.
        progress(this.tool, `could not close ${what}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
}
