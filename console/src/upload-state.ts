/** The upload session this tab opened, kept in sessionStorage until finalized (console/src/upload.ts). */
export interface SavedSession {
  sessionId: string;
  machineId: string;
  digests: Record<string, { size: number; sha256: string }>;
  kernelArgs: string[];
}

export const savedKey = 'netboot.console.upload';

export function savedUpload(): SavedSession | null {
  const raw = sessionStorage.getItem(savedKey);
  if (!raw) return null;
  try {
    return JSON.parse(raw) as SavedSession;
  } catch {
    return null;
  }
}

export function forgetUpload(): void {
  sessionStorage.removeItem(savedKey);
}
