// Captured command output with bounded memory: the first and the last
// `limit / 2` bytes are kept, the middle is counted and replaced by one marker.
// Memory grows with what was captured, up to `limit`: a call that prints one
// line does not pay for a megabyte.

export const DEFAULT_OUTPUT_LIMIT_BYTES = 1024 * 1024;

/** First allocation of the head; it doubles from there up to its share of the limit. */
const INITIAL_HEAD_BYTES = 4096;

/** Shown as U+FFFD where the bytes are not UTF-8; never throws. */
function decode(bytes: Uint8Array): string {
  return new TextDecoder("utf-8", { fatal: false }).decode(bytes);
}

function isContinuation(byte: number): boolean {
  return (byte & 0xc0) === 0x80;
}

/**
 * Length of the longest prefix of `bytes` that does not end inside a UTF-8
 * sequence, so that a cut made by the cap does not show up as U+FFFD.
 */
function wholeCharacterPrefix(bytes: Uint8Array): number {
  const length = bytes.byteLength;
  for (let back = 1; back <= Math.min(4, length); back++) {
    const byte = bytes[length - back]!;
    if (isContinuation(byte)) continue;
    const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return needed > back ? length - back : length;
  }
  return length;
}

/** Continuation bytes at the start of `bytes` (at most 3): the rest of a character the cap cut. */
function leadingContinuations(bytes: Uint8Array): number {
  let count = 0;
  while (count < Math.min(3, bytes.byteLength) && isContinuation(bytes[count]!)) count++;
  return count;
}

export class BoundedOutput {
  private readonly headCapacity: number;
  private readonly tailCapacity: number;
  private head = new Uint8Array(new ArrayBuffer(0));
  private headLength = 0;
  /** Ring of the most recent bytes past the head, allocated when first needed. */
  private tail: Uint8Array | null = null;
  /** Next write position in the tail ring. */
  private tailStart = 0;
  private tailLength = 0;
  private dropped = 0;

  constructor(limit = DEFAULT_OUTPUT_LIMIT_BYTES) {
    this.headCapacity = Math.ceil(limit / 2);
    this.tailCapacity = limit - this.headCapacity;
  }

  append(chunk: Uint8Array): void {
    let rest = chunk;
    if (this.headLength < this.headCapacity) {
      const take = Math.min(rest.byteLength, this.headCapacity - this.headLength);
      this.reserveHead(this.headLength + take);
      this.head.set(rest.subarray(0, take), this.headLength);
      this.headLength += take;
      rest = rest.subarray(take);
    }
    if (rest.byteLength === 0) return;
    const capacity = this.tailCapacity;
    if (capacity === 0) {
      this.dropped += rest.byteLength;
      return;
    }
    this.tail ??= new Uint8Array(new ArrayBuffer(capacity));
    const tail = this.tail;
    if (rest.byteLength >= capacity) {
      this.dropped += this.tailLength + rest.byteLength - capacity;
      tail.set(rest.subarray(rest.byteLength - capacity));
      this.tailStart = 0;
      this.tailLength = capacity;
      return;
    }
    this.dropped += Math.max(0, this.tailLength + rest.byteLength - capacity);
    const firstPart = Math.min(rest.byteLength, capacity - this.tailStart);
    tail.set(rest.subarray(0, firstPart), this.tailStart);
    tail.set(rest.subarray(firstPart), 0);
    this.tailStart = (this.tailStart + rest.byteLength) % capacity;
    this.tailLength = Math.min(capacity, this.tailLength + rest.byteLength);
  }

  /** Bytes captured and then dropped from the middle. */
  get droppedBytes(): number {
    return this.dropped;
  }

  /** The text, invalid UTF-8 shown as U+FFFD, with a marker where bytes were dropped. */
  text(): string {
    const head = this.head.subarray(0, this.headLength);
    const tail = this.tailBytes();
    // Nothing dropped: one decode, so a character spanning head and tail stays whole.
    if (this.dropped === 0) return decode(concat(head, tail));
    const headEnd = wholeCharacterPrefix(head);
    const tailStart = leadingContinuations(tail);
    const omitted = this.dropped + (head.byteLength - headEnd) + tailStart;
    const headText = decode(head.subarray(0, headEnd));
    const separator = headText === "" || headText.endsWith("\n") ? "" : "\n";
    return `${headText}${separator}[... ${omitted} bytes of output omitted ...]\n${decode(tail.subarray(tailStart))}`;
  }

  /** The last `bytes` bytes captured, for progress messages. */
  recent(bytes: number): string {
    const tail = this.tailBytes();
    const source = tail.byteLength >= bytes || this.dropped > 0 ? tail : concat(this.head.subarray(0, this.headLength), tail);
    const last = source.subarray(Math.max(0, source.byteLength - bytes));
    return decode(last.subarray(leadingContinuations(last)));
  }

  /** Grows the head by doubling, never beyond its share of the limit. */
  private reserveHead(needed: number): void {
    if (needed <= this.head.byteLength) return;
    const size = Math.min(this.headCapacity, Math.max(needed, INITIAL_HEAD_BYTES, this.head.byteLength * 2));
    const grown = new Uint8Array(new ArrayBuffer(size));
    grown.set(this.head.subarray(0, this.headLength));
    this.head = grown;
  }

  /** The tail in order, oldest byte first. */
  private tailBytes(): Uint8Array {
    if (this.tail === null) return new Uint8Array(0);
    if (this.tailLength < this.tailCapacity) return this.tail.subarray(0, this.tailLength);
    const ordered = new Uint8Array(new ArrayBuffer(this.tailLength));
    ordered.set(this.tail.subarray(this.tailStart));
    ordered.set(this.tail.subarray(0, this.tailStart), this.tailCapacity - this.tailStart);
    return ordered;
  }
}

function concat(first: Uint8Array, second: Uint8Array): Uint8Array {
  if (second.byteLength === 0) return first;
  const joined = new Uint8Array(new ArrayBuffer(first.byteLength + second.byteLength));
  joined.set(first);
  joined.set(second, first.byteLength);
  return joined;
}
