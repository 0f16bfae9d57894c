/** multipart/form-data bodies built byte by byte, so they can be wrong in exactly one way. */

export interface Part {
  name?: string;
  filename?: string;
  contentType?: string;
  /** Replaces the generated Content-Disposition / Content-Type lines entirely. */
  rawHeaders?: string[];
  data: string | Buffer;
}

export const boundary = 'hostile-boundary-7e1f';

export function multipart(parts: Part[], opts: { boundary?: string; close?: boolean; preamble?: string } = {}): Buffer {
  const b = opts.boundary ?? boundary;
  const chunks: Buffer[] = [];
  if (opts.preamble) chunks.push(Buffer.from(opts.preamble));
  for (const part of parts) {
    const headers = part.rawHeaders ?? [
      `Content-Disposition: form-data${part.name === undefined ? '' : `; name="${part.name}"`}${part.filename === undefined ? '' : `; filename="${part.filename}"`}`,
      ...(part.contentType ? [`Content-Type: ${part.contentType}`] : part.filename !== undefined ? ['Content-Type: application/octet-stream'] : []),
    ];
    chunks.push(Buffer.from(`--${b}\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`));
    chunks.push(typeof part.data === 'string' ? Buffer.from(part.data) : part.data);
    chunks.push(Buffer.from('\r\n'));
  }
  if (opts.close ?? true) chunks.push(Buffer.from(`--${b}--\r\n`));
  return Buffer.concat(chunks);
}

export const formType = (b = boundary) => `multipart/form-data; boundary=${b}`;

export const kernelPart = (data: Buffer): Part => ({ name: 'kernel', filename: 'vmlinuz', data });
export const initrdPart = (data: Buffer): Part => ({ name: 'initrd', filename: 'initrd.img', data });
export const fieldPart = (name: string, data: string | Buffer): Part => ({ name, data });
