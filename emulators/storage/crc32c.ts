// Incremental CRC32C (Castagnoli) with @node-rs/crc32 (native, SSE 4.2: about 5 GB/s here, against
// 0.9 GB/s for a JavaScript slicing-by-8 table); firebase-tools' crc32c() only takes a whole buffer,
// and objects here reach several hundred MB and arrive in chunks.
import { crc32c } from "@node-rs/crc32";

export class Crc32c {
  /** The CRC of the bytes so far (finalised: @node-rs/crc32 continues from a finalised value). */
  private crc = 0;

  update(buf: Uint8Array): this {
    this.crc = crc32c(Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength), this.crc);
    return this;
  }

  /** The checksum as an unsigned 32-bit number. */
  value(): number {
    return this.crc >>> 0;
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
