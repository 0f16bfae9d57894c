// crc32cCombine against the CRC of the concatenation itself.
import { randomBytes, randomInt } from "node:crypto";
import { CRC32C } from "@google-cloud/storage";
import { describe, expect, it } from "vitest";
import { Crc32c, crc32cCombine } from "./crc32c";

const crc = (b: Uint8Array) => new Crc32c().update(b).value();

describe("crc32cCombine", () => {
  it("matches the CRC of the concatenation for random parts (empty, 1 byte, odd sizes, MiBs)", () => {
    const lengths = [0, 1, 2, 3, 7, 8, 9, 255, 4097, 65537, 1 << 20, (1 << 20) + 3];
    for (let i = 0; i < 40; i++) lengths.push(randomInt(0, 300_000));
    for (const la of lengths) {
      const lb = lengths[randomInt(lengths.length)] as number;
      const a = randomBytes(la);
      const b = randomBytes(lb);
      expect(crc32cCombine(crc(a), crc(b), lb)).toBe(crc(Buffer.concat([a, b])));
    }
  });

  it("agrees with @google-cloud/storage's own CRC32C and folds many parts left to right", () => {
    const parts = Array.from({ length: 33 }, (_, i) => randomBytes(i === 5 ? 0 : randomInt(1, 20_000)));
    let acc = 0;
    for (const p of parts) acc = crc32cCombine(acc, crc(p), p.length);
    const theirs = new CRC32C();
    theirs.update(Buffer.concat(parts));
    expect(acc).toBe(Buffer.from(theirs.toString(), "base64").readUInt32BE(0));
  });

  it("stays consistent past 4 GiB (lengths checked by algebra, not by hashing the bytes)", () => {
    // Z(n): the CRC of n zero bytes. Z(2n) = combine(Z(n), Z(n), n); zero runs commute, so
    // combine(Z(a), Z(b), b) = combine(Z(b), Z(a), a), which puts lengths >= 2^32 through the
    // second argument's path; and combining is associative over A, Z(big), B.
    const base = 1 << 20;
    const zeros = (n: number) => crc(new Uint8Array(n));
    let z = zeros(base);
    let len = base;
    expect(crc32cCombine(z, z, len)).toBe(zeros(2 * base));
    while (len < 2 ** 33) {
      z = crc32cCombine(z, z, len);
      len *= 2;
    }
    const z32 = (() => {
      let zz = zeros(base);
      for (let l = base; l < 2 ** 32; l *= 2) zz = crc32cCombine(zz, zz, l);
      return zz;
    })();
    const z1 = zeros(base);
    expect(crc32cCombine(z32, z1, base)).toBe(crc32cCombine(z1, z32, 2 ** 32));
    expect(crc32cCombine(z32, z32, 2 ** 32)).toBe(z);
    const big = 2 ** 32 + 12345;
    const zBig = crc32cCombine(z32, zeros(12345), 12345);
    expect(crc32cCombine(zeros(12345), z32, 2 ** 32)).toBe(zBig);
    const a = randomBytes(1001);
    const b = randomBytes(77);
    const left = crc32cCombine(crc32cCombine(crc(a), zBig, big), crc(b), b.length);
    const right = crc32cCombine(crc(a), crc32cCombine(zBig, crc(b), b.length), big + b.length);
    expect(left).toBe(right);
    expect(() => crc32cCombine(0, 0, -1)).toThrow(RangeError);
  });
});
