// Progress for long calls: when the client sent a progressToken, report the
// tail of the output at a modest rate (never more than once per interval, and
// only when something new arrived).
import type { ProgressNotification } from "@modelcontextprotocol/sdk/types.js";
import type { BoundedOutput } from "../exec/output.ts";

export const PROGRESS_INTERVAL_MS = 1_000;
const PROGRESS_TAIL_BYTES = 400;

export interface ProgressReporter {
  /** Call on every output chunk. */
  onOutput(output: BoundedOutput): void;
  stop(): void;
}

export function startProgress(
  progressToken: string | number | undefined,
  send: (notification: ProgressNotification) => Promise<void>,
): ProgressReporter | undefined {
  if (progressToken === undefined) return undefined;
  const startedAt = performance.now();
  let latest: BoundedOutput | undefined;
  let fresh = false;
  const timer = setInterval(() => {
    if (!fresh || latest === undefined) return;
    fresh = false;
    void send({
      method: "notifications/progress",
      params: {
        progressToken,
        // Milliseconds elapsed: always increasing, as the spec requires.
        progress: Math.round(performance.now() - startedAt),
        message: latest.recent(PROGRESS_TAIL_BYTES),
      },
    }).catch(() => {});
  }, PROGRESS_INTERVAL_MS);
  return {
    onOutput(output) {
      latest = output;
      fresh = true;
    },
    stop() {
      clearInterval(timer);
    },
  };
}
