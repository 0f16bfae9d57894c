// Incremental CRC32C (Castagnoli), slicing-by-8. firebase-tools' crc32c() only takes a whole
// buffer, and @google-cloud/storage's is byte-at-a-time (~150 MiB/s); objects here reach
// several hundred MB and arrive in chunks.
const TABLES: Uint32Array[] = (() => {
  const t = Array.from({ length: 8 }, () => new Uint32Array(256));
  const t0 = t[0] as Uint32Array;
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t0[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = t0[n] as number;
    for (let k = 1; k < 8; k++) {
      c = (t0[c & 0xff] as number) ^ (c >>> 8);
      (t[k] as Uint32Array)[n] = c >>> 0;
    }
  }
  return t;
})();
const [T0, T1, T2, T3, T4, T5, T6, T7] = TABLES as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array];

export class Crc32c {
  private crc = 0xffffffff;

  update(buf: Uint8Array): this {
    let c = this.crc;
    let i = 0;
    const end8 = buf.length - (buf.length % 8);
    for (; i < end8; i += 8) {
      const a = c ^ ((buf[i] as number) | ((buf[i + 1] as number) << 8) | ((buf[i + 2] as number) << 16) | ((buf[i + 3] as number) << 24));
      c =
        (T7[a & 0xff] as number) ^
        (T6[(a >>> 8) & 0xff] as number) ^
        (T5[(a >>> 16) & 0xff] as number) ^
        (T4[a >>> 24] as number) ^
        (T3[buf[i + 4] as number] as number) ^
        (T2[buf[i + 5] as number] as number) ^
        (T1[buf[i + 6] as number] as number) ^
        (T0[buf[i + 7] as number] as number);
    }
    for (; i < buf.length; i++) c = (T0[(c ^ (buf[i] as number)) & 0xff] as number) ^ (c >>> 8);
    this.crc = c >>> 0;
    return this;
  }

  /** The checksum as an unsigned 32-bit number. */
  value(): number {
    return (this.crc ^ 0xffffffff) >>> 0;
  }

  copy(): Crc32c {
    const c = new Crc32c();
    c.crc = this.crc;
    return c;
  }
}
