import { createHash, type Hash } from "node:crypto";
import { Crc32c } from "./crc32c";

/** size, md5 and crc32c of an object, computed as its bytes go by (never from a whole buffer). */
export class ObjectHasher {
  size = 0;
  private md5: Hash = createHash("md5");
  private crc = new Crc32c();

  update(buf: Uint8Array): void {
    this.size += buf.length;
    this.md5.update(buf);
    this.crc.update(buf);
  }

  /** Without consuming the state, so a resumable session can keep appending. */
  result(): { size: number; md5Hash: string; crc32c: number } {
    return { size: this.size, md5Hash: this.md5.copy().digest("base64"), crc32c: this.crc.value() };
  }
}
