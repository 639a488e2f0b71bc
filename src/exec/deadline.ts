// A call's timeout, measured on a stopwatch that stops while an approval
// question is open (several may be open at once: it runs when none is).

/** setTimeout's own limit; longer waits are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class Deadline {
  private remainingMs: number;
  private startedAt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private pauses = 0;
  private expired = false;
  private stopped = false;

  constructor(
    timeoutMs: number,
    private readonly onExpire: () => void,
  ) {
    this.remainingMs = timeoutMs;
    this.run();
  }

  get hasExpired(): boolean {
    return this.expired;
  }

  /** Stops the clock until the matching `resume`. */
  pause(): void {
    if (this.pauses++ > 0 || this.timer === null) return;
    clearTimeout(this.timer);
    this.timer = null;
    this.remainingMs -= performance.now() - this.startedAt;
  }

  resume(): void {
    if (this.pauses === 0 || --this.pauses > 0 || this.expired || this.stopped) return;
    this.run();
  }

  /** The call ended: the deadline no longer matters. */
  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.stopped = true;
  }

  private run(): void {
    this.startedAt = performance.now();
    const wait = Math.min(MAX_TIMER_MS, Math.max(0, this.remainingMs));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.remainingMs -= wait;
      if (this.remainingMs > 0) return this.run();
      this.expired = true;
      this.onExpire();
    }, wait);
  }
}
