// The pausable deadline: approval questions stop the clock, several may be open.
import { describe, expect, test } from "bun:test";
import { Deadline } from "../../src/exec/deadline.ts";

/** When `deadline`'s callback ran, in ms after `start`, or null if it did not within `waitMs`. */
async function firedAfter(make: (onExpire: () => void) => Deadline, waitMs: number, during?: (deadline: Deadline) => Promise<void>) {
  const start = performance.now();
  let firedAt: number | null = null;
  const deadline = make(() => {
    firedAt = performance.now() - start;
  });
  await during?.(deadline);
  await Bun.sleep(Math.max(0, waitMs - (performance.now() - start)));
  deadline.stop();
  return firedAt as number | null;
}

describe("Deadline", () => {
  test("expires after its time", async () => {
    const at = await firedAfter((expire) => new Deadline(100, expire), 300);
    expect(at).not.toBeNull();
    expect(at!).toBeGreaterThanOrEqual(99);
    expect(at!).toBeLessThan(250);
  });

  test("a pause stops the clock; resume runs the rest", async () => {
    const at = await firedAfter((expire) => new Deadline(150, expire), 600, async (deadline) => {
      await Bun.sleep(50);
      deadline.pause();
      await Bun.sleep(200);
      deadline.resume();
    });
    // 50 ms before the pause + 200 ms paused + the remaining 100 ms.
    expect(at!).toBeGreaterThanOrEqual(345);
    expect(at!).toBeLessThan(500);
  });

  test("overlapping pauses: the clock runs only when every question is answered", async () => {
    const at = await firedAfter((expire) => new Deadline(100, expire), 700, async (deadline) => {
      deadline.pause();
      deadline.pause();
      await Bun.sleep(150);
      deadline.resume();
      await Bun.sleep(150);
      deadline.resume();
    });
    expect(at!).toBeGreaterThanOrEqual(395);
  });

  test("stop() means it never fires, even after a resume", async () => {
    const at = await firedAfter((expire) => new Deadline(50, expire), 200, async (deadline) => {
      deadline.pause();
      deadline.stop();
      deadline.resume();
    });
    expect(at).toBeNull();
  });

  test("a zero timeout fires at once", async () => {
    const at = await firedAfter((expire) => new Deadline(0, expire), 50);
    expect(at!).toBeLessThan(40);
  });
});
