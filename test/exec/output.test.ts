// BoundedOutput: what a call returns from what it printed, whatever it printed.
import { describe, expect, test } from "bun:test";
import { BoundedOutput } from "../../src/exec/output.ts";

const encoder = new TextEncoder();

/** What the output must be: the first and last limit/2 bytes around a marker. */
function expected(all: Uint8Array, limit: number): string {
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  if (all.byteLength <= limit) return decode(all);
  const headBytes = Math.ceil(limit / 2);
  const tailBytes = limit - headBytes;
  const head = decode(all.subarray(0, headBytes));
  const separator = head.endsWith("\n") ? "" : "\n";
  return `${head}${separator}[... ${all.byteLength - limit} bytes of output omitted ...]\n${decode(all.subarray(all.byteLength - tailBytes))}`;
}

function appendInChunks(output: BoundedOutput, bytes: Uint8Array, sizes: () => number): void {
  for (let offset = 0; offset < bytes.byteLength; ) {
    const size = Math.min(sizes(), bytes.byteLength - offset);
    output.append(bytes.subarray(offset, offset + size));
    offset += size;
  }
}

describe("head, tail and one marker", () => {
  test("under the limit everything is kept, in order", () => {
    const output = new BoundedOutput(100);
    output.append(encoder.encode("one\n"));
    output.append(encoder.encode("two\n"));
    expect(output.text()).toBe("one\ntwo\n");
    expect(output.droppedBytes).toBe(0);
  });

  test("exactly at the limit nothing is dropped", () => {
    const output = new BoundedOutput(10);
    output.append(encoder.encode("0123456789"));
    expect(output.text()).toBe("0123456789");
  });

  test("over the limit: first and last halves, the marker counts the rest exactly", () => {
    const output = new BoundedOutput(10);
    output.append(encoder.encode("abcdefghijklmnopqrstuvwxyz"));
    expect(output.text()).toBe("abcde\n[... 16 bytes of output omitted ...]\nvwxyz");
    expect(output.droppedBytes).toBe(16);
  });

  test("any chunking gives the same result as one append (the tail is a ring)", () => {
    const all = encoder.encode(Array.from({ length: 5000 }, (_, i) => `line ${i}\n`).join(""));
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    for (const limit of [1, 2, 64, 1001, 4096, all.byteLength - 1, all.byteLength, all.byteLength + 1]) {
      for (const sizes of [() => 1, () => 7, () => 1 + (random() % 3000), () => all.byteLength]) {
        const output = new BoundedOutput(limit);
        appendInChunks(output, all, sizes);
        expect(output.text()).toBe(expected(all, limit));
      }
    }
  });

  test("a limit of zero keeps nothing but says how much there was", () => {
    const output = new BoundedOutput(0);
    output.append(encoder.encode("hello"));
    expect(output.text()).toBe("[... 5 bytes of output omitted ...]\n");
  });
});

describe("UTF-8", () => {
  test("invalid bytes become U+FFFD, never an exception", () => {
    const output = new BoundedOutput(100);
    output.append(new Uint8Array([0x61, 0xff, 0xfe, 0x62, 0xc3, 0x0a]));
    expect(output.text()).toBe("a\uFFFD\uFFFDb\uFFFD\n");
  });

  test("a character split across appends, and across head and tail, stays whole when nothing is dropped", () => {
    // Limit 4: head is 2 bytes, tail 2; "€" (3 bytes) straddles them.
    const output = new BoundedOutput(4);
    const bytes = encoder.encode("a€");
    for (const byte of bytes) output.append(new Uint8Array([byte]));
    expect(output.text()).toBe("a€");
  });

  test("the cut never leaves half a character: partial sequences at its edges count as omitted", () => {
    const text = "€".repeat(100);
    const output = new BoundedOutput(32);
    output.append(encoder.encode(text));
    // Head: 16 bytes = 5 whole characters + 1 byte; tail: 16 bytes = 1 byte + 5 characters.
    expect(output.text()).toBe(`${"€".repeat(5)}\n[... ${300 - 30} bytes of output omitted ...]\n${"€".repeat(5)}`);
    expect(output.text()).not.toContain("\uFFFD");
  });

  test("recent() gives the last bytes without a broken first character", () => {
    const output = new BoundedOutput(1000);
    output.append(encoder.encode("start €€€ end"));
    expect(output.recent(8)).toBe("€ end");
    expect(output.recent(1000)).toBe("start €€€ end");
  });
});
