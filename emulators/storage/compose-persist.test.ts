// A composite object (compose.ts) in dataDir: firebase-tools' metadata insists on an MD5, which
// a composite object has none of (one emulator per process, hence a file of its own).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { startStorage } from "./test-support";

const BUCKET = "demo-netboot-compose";

describe("a composite object in dataDir", () => {
  it("keeps a composite object (no md5Hash, componentCount) across a dataDir restart; its metadata can be patched", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "netboot-compose-"));
    try {
      const a = await startStorage({ dataDir });
      const b1 = a.storage.bucket(BUCKET);
      await b1.file("p/1").save("one,", { resumable: false });
      await b1.file("p/2").save("two", { resumable: false });
      const [, made] = await b1.combine([b1.file("p/1"), b1.file("p/2")], "p/c", { ifGenerationMatch: 0 });
      const [patched] = await b1.file("p/c").setMetadata({ metadata: { note: "patched" } });
      expect(patched).toMatchObject({ componentCount: 2, metageneration: "2", metadata: { note: "patched" } });
      expect(patched.md5Hash).toBeUndefined();
      await a.emu.stop();
      a.restoreEnv();

      const b = await startStorage({ dataDir });
      try {
        const f = b.storage.bucket(BUCKET).file("p/c");
        const [md] = await f.getMetadata();
        expect(md).toMatchObject({ componentCount: 2, crc32c: (made as { crc32c: string }).crc32c, generation: (made as { generation: string }).generation, metadata: { note: "patched" } });
        expect(md.md5Hash).toBeUndefined();
        expect((await f.download({ validation: "crc32c" }))[0].toString()).toBe("one,two");
      } finally {
        await b.emu.stop();
        b.restoreEnv();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

});
