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

// CRC32C of a concatenation from the parts' CRCs, as zlib's crc32_combine() (its x2nmodp form):
// appending n bytes multiplies the running remainder by x^(8n) mod P in GF(2), and x^(2^k) mod P
// is tabulated, so the cost is O(log n) multiplications whatever the lengths.
const POLY = 0x82f63b78; // Castagnoli, reflected

/** a(x) * b(x) mod P, bit-reflected (the top bit is x^0). */
function multModP(a: number, b: number): number {
  if (a === 0) return 0;
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p >>> 0;
}

/**
 * X2N[k] = x^(2^k) mod P, for every k a safe-integer length reaches (k <= 3 + 53). zlib wraps k
 * at 32 (x^(2^32) = x mod its polynomial); the order of x mod the Castagnoli polynomial does not
 * divide 2^32 - 1, so the table here does not wrap.
 */
const X2N: Uint32Array = (() => {
  const t = new Uint32Array(64);
  let p = 1 << 30; // x^1
  t[0] = p;
  for (let k = 1; k < 64; k++) t[k] = p = multModP(p, p);
  return t;
})();

/** x^(n * 2^k) mod P; n a non-negative integer up to 2^53 (not limited to 32 bits). */
function x2nModP(n: number, k: number): number {
  let p = 0x80000000; // x^0
  while (n > 0) {
    if (n % 2 === 1) p = multModP(X2N[k] as number, p);
    n = Math.floor(n / 2);
    k++;
  }
  return p;
}

/** The CRC32C of A followed by B, from crc(A), crc(B) and the byte length of B (a safe integer). */
export function crc32cCombine(crcA: number, crcB: number, lengthB: number): number {
  if (!Number.isSafeInteger(lengthB) || lengthB < 0) throw new RangeError(`bad length ${lengthB}`);
  return (multModP(x2nModP(lengthB, 3), crcA >>> 0) ^ (crcB >>> 0)) >>> 0;
}
