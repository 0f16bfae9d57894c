import { Timestamp, type Firestore } from '@google-cloud/firestore';
import { ipxeFiles, type IpxeFile } from './files';

/** A published binary: which stored object `GET /ipxe/{file}` serves now. */
export interface IpxeRecord {
  file: IpxeFile;
  size: number;
  sha256: string;
  object: string;
  publishedAt: Date;
  uploadId: string;
}

export interface IpxeSessionFile {
  size: number;
  sha256: string;
  object: string;
  /** null: the service already held this content (object is that copy). */
  upload: { url: string; method: 'PUT'; chunk_multiple: number } | null;
}

export interface IpxeSessionRecord {
  id: string;
  state: 'open' | 'finalized' | 'cancelled';
  createdAt: Date;
  expiresAt: Date;
  files: Partial<Record<IpxeFile, IpxeSessionFile>>;
  /** What the finalize published. */
  published?: IpxeRecord[];
}

/** Published binaries, their content index and their upload sessions. */
export interface IpxeRepository {
  list(): Promise<IpxeRecord[]>;
  get(file: IpxeFile): Promise<IpxeRecord | null>;
  /** The object already holding this content, if any. */
  findContent(sha256: string, size: number): Promise<string | null>;
  createSession(session: IpxeSessionRecord): Promise<void>;
  getSession(id: string): Promise<IpxeSessionRecord | null>;
  cancelSession(id: string): Promise<void>;
  /**
   * In one transaction: every file of the open session becomes the published one, its
   * content is indexed, the session is finalized. A finalized session answers what it published.
   */
  publish(id: string, now: Date): Promise<IpxeRecord[] | null>;
}

const BINARIES = 'ipxe_binaries';
const CONTENT = 'ipxe_content';
const SESSIONS = 'ipxe_uploads';

const toDate = (v: unknown): Date => (v instanceof Timestamp ? v.toDate() : new Date(String(v)));

function recordOf(data: FirebaseFirestore.DocumentData): IpxeRecord {
  return { file: data.file as IpxeFile, size: Number(data.size), sha256: String(data.sha256), object: String(data.object), publishedAt: toDate(data.published_at), uploadId: String(data.upload_id) };
}

function recordData(r: IpxeRecord) {
  return { file: r.file, size: r.size, sha256: r.sha256, object: r.object, published_at: r.publishedAt, upload_id: r.uploadId };
}

function sessionOf(data: FirebaseFirestore.DocumentData): IpxeSessionRecord {
  return {
    id: String(data.id),
    state: data.state as IpxeSessionRecord['state'],
    createdAt: toDate(data.created_at),
    expiresAt: toDate(data.expires_at),
    files: data.files as IpxeSessionRecord['files'],
    ...(Array.isArray(data.published) ? { published: (data.published as FirebaseFirestore.DocumentData[]).map(recordOf) } : {}),
  };
}

export class FirestoreIpxeRepository implements IpxeRepository {
  constructor(private readonly db: Firestore) {}

  async list(): Promise<IpxeRecord[]> {
    const snap = await this.db.collection(BINARIES).get();
    const records = snap.docs.map((d) => recordOf(d.data()));
    return records.sort((a, b) => ipxeFiles.indexOf(a.file) - ipxeFiles.indexOf(b.file));
  }

  async get(file: IpxeFile): Promise<IpxeRecord | null> {
    const doc = await this.db.collection(BINARIES).doc(file).get();
    return doc.exists ? recordOf(doc.data() as FirebaseFirestore.DocumentData) : null;
  }

  async findContent(sha256: string, size: number): Promise<string | null> {
    const doc = await this.db.collection(CONTENT).doc(sha256).get();
    const data = doc.data();
    return data && Number(data.size) === size ? String(data.object) : null;
  }

  async createSession(s: IpxeSessionRecord): Promise<void> {
    await this.db.collection(SESSIONS).doc(s.id).create({ id: s.id, state: s.state, created_at: s.createdAt, expires_at: s.expiresAt, files: s.files });
  }

  async getSession(id: string): Promise<IpxeSessionRecord | null> {
    const doc = await this.db.collection(SESSIONS).doc(id).get();
    return doc.exists ? sessionOf(doc.data() as FirebaseFirestore.DocumentData) : null;
  }

  async cancelSession(id: string): Promise<void> {
    await this.db.collection(SESSIONS).doc(id).update({ state: 'cancelled' });
  }

  async publish(id: string, now: Date): Promise<IpxeRecord[] | null> {
    return this.db.runTransaction(async (tx) => {
      const ref = this.db.collection(SESSIONS).doc(id);
      const snap = await tx.get(ref);
      if (!snap.exists) return null;
      const session = sessionOf(snap.data() as FirebaseFirestore.DocumentData);
      if (session.state === 'finalized') return session.published ?? [];
      if (session.state !== 'open') return null;
      const records = ipxeFiles.flatMap((file): IpxeRecord[] => {
        const f = session.files[file];
        return f ? [{ file, size: f.size, sha256: f.sha256, object: f.object, publishedAt: now, uploadId: id }] : [];
      });
      for (const r of records) {
        tx.set(this.db.collection(BINARIES).doc(r.file), recordData(r));
        tx.set(this.db.collection(CONTENT).doc(r.sha256), { sha256: r.sha256, size: r.size, object: r.object });
      }
      tx.update(ref, { state: 'finalized', published: records.map(recordData) });
      return records;
    });
  }
}
