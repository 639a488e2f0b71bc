// Captured command output with bounded memory: the first and the last
// `limit / 2` bytes are kept, the middle is counted and replaced by one marker.

export const DEFAULT_OUTPUT_LIMIT_BYTES = 1024 * 1024;

export class BoundedOutput {
  private readonly head: Uint8Array;
  private headLength = 0;
  private readonly tail: Uint8Array;
  /** Next write position in the tail ring. */
  private tailStart = 0;
  private tailLength = 0;
  private dropped = 0;

  constructor(limit = DEFAULT_OUTPUT_LIMIT_BYTES) {
    const headBytes = Math.ceil(limit / 2);
    this.head = new Uint8Array(headBytes);
    this.tail = new Uint8Array(limit - headBytes);
  }

  append(chunk: Uint8Array): void {
    let rest = chunk;
    if (this.headLength < this.head.byteLength) {
      const take = Math.min(rest.byteLength, this.head.byteLength - this.headLength);
      this.head.set(rest.subarray(0, take), this.headLength);
      this.headLength += take;
      rest = rest.subarray(take);
    }
    if (rest.byteLength === 0) return;
    const capacity = this.tail.byteLength;
    if (rest.byteLength >= capacity) {
      this.dropped += this.tailLength + rest.byteLength - capacity;
      this.tail.set(rest.subarray(rest.byteLength - capacity));
      this.tailStart = 0;
      this.tailLength = capacity;
      return;
    }
    const overflow = Math.max(0, this.tailLength + rest.byteLength - capacity);
    this.dropped += overflow;
    const firstPart = Math.min(rest.byteLength, capacity - this.tailStart);
    this.tail.set(rest.subarray(0, firstPart), this.tailStart);
    this.tail.set(rest.subarray(firstPart), 0);
    this.tailStart = (this.tailStart + rest.byteLength) % capacity;
    this.tailLength = Math.min(capacity, this.tailLength + rest.byteLength);
  }

  get droppedBytes(): number {
    return this.dropped;
  }

  /** The tail in order, oldest byte first. */
  private tailBytes(): Uint8Array {
    if (this.tailLength < this.tail.byteLength) return this.tail.subarray(0, this.tailLength);
    const ordered = new Uint8Array(this.tailLength);
    ordered.set(this.tail.subarray(this.tailStart));
    ordered.set(this.tail.subarray(0, this.tailStart), this.tail.byteLength - this.tailStart);
    return ordered;
  }

  /** The text, invalid UTF-8 shown as U+FFFD, with a marker where bytes were dropped. */
  text(): string {
    const decode = (bytes: Uint8Array) => new TextDecoder("utf-8", { fatal: false }).decode(bytes);
    const head = decode(this.head.subarray(0, this.headLength));
    const tail = decode(this.tailBytes());
    if (this.dropped === 0) return head + tail;
    const separator = head.endsWith("\n") ? "" : "\n";
    return `${head}${separator}[... ${this.dropped} bytes of output omitted ...]\n${tail}`;
  }

  /** The last `bytes` bytes captured, for progress messages. */
  recent(bytes: number): string {
    const tail = this.tailLength > 0 ? this.tailBytes() : this.head.subarray(0, this.headLength);
    return new TextDecoder("utf-8", { fatal: false }).decode(tail.subarray(Math.max(0, tail.byteLength - bytes)));
  }
}
