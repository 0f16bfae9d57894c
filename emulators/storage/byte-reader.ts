/** Pulls delimited pieces out of a byte stream without ever holding more than one chunk plus a delimiter. */
export class ByteReader {
  private buf: Buffer = Buffer.alloc(0);
  private readonly it: AsyncIterator<Buffer>;

  constructor(source: AsyncIterable<Buffer>) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async more(): Promise<boolean> {
    const r = await this.it.next();
    if (r.done) return false;
    this.buf = this.buf.length ? Buffer.concat([this.buf, r.value]) : r.value;
    return true;
  }

  /** The bytes before `delim` (consumed too); for small pieces only: fails past `max` bytes. */
  async readUntil(delim: string, max: number): Promise<Buffer> {
    const d = Buffer.from(delim, "latin1");
    for (;;) {
      const i = this.buf.indexOf(d);
      if (i >= 0) {
        const out = this.buf.subarray(0, i);
        this.buf = this.buf.subarray(i + d.length);
        return out;
      }
      if (this.buf.length > max + d.length) throw new Error(`multipart: no ${JSON.stringify(delim)} within ${max} bytes`);
      if (!(await this.more())) throw new Error(`multipart: body ended before ${JSON.stringify(delim)}`);
    }
  }

  /** Streams the bytes before `delim`, then consumes it; throws if the body ends first. */
  async *streamUntil(delim: string): AsyncGenerator<Buffer> {
    const d = Buffer.from(delim, "latin1");
    for (;;) {
      const i = this.buf.indexOf(d);
      if (i >= 0) {
        if (i > 0) yield this.buf.subarray(0, i);
        this.buf = this.buf.subarray(i + d.length);
        return;
      }
      const keep = d.length - 1; // a delimiter may straddle two chunks
      if (this.buf.length > keep) {
        const out = this.buf.subarray(0, this.buf.length - keep);
        this.buf = Buffer.from(this.buf.subarray(this.buf.length - keep));
        yield out;
      }
      if (!(await this.more())) throw new Error("multipart: body ended inside the media part");
    }
  }

  async drain(): Promise<void> {
    this.buf = Buffer.alloc(0);
    while (!(await this.it.next()).done);
  }
}
