/**
 * The chunk-file layout shared by MIDX files (spec 2.3): a table of contents
 * of (u32 id, u64 offset) entries closed by a zero id, chunks back to back.
 */

export const CHUNK_PNAM = 0x504e414d;
export const CHUNK_OIDF = 0x4f494446;
export const CHUNK_OIDL = 0x4f49444c;
export const CHUNK_OOFF = 0x4f4f4646;
export const CHUNK_LOFF = 0x4c4f4646;
export const CHUNK_RIDX = 0x52494458;
export const CHUNK_BTMP = 0x42544d50;

export const MIDX_SIGNATURE = 0x4d494458;
export const MIDX_HEADER_SIZE = 12;
export const TOC_ENTRY_SIZE = 12;

export interface ChunkRange {
  id: number;
  offset: number;
  size: number;
}

export function hex32(x: number): string {
  return (x >>> 0).toString(16);
}

/**
 * git's `read_table_of_contents` (spec 2.3) over `count` ToC entries starting at
 * toc[0] (the bytes at file offset 12): its checks in its order, offsets kept exact
 * (u64) for its messages. Returns the chunks, git's message for the first problem,
 * or null when `toc` ends before the entries do (git would read past the file).
 */
export function gitToc(toc: Uint8Array, count: number, fileSize: number, hashLength: number): ChunkRange[] | string | null {
  const dv = new DataView(toc.buffer, toc.byteOffset, toc.byteLength);
  const limit = BigInt(fileSize - hashLength);
  const chunks: ChunkRange[] = [];
  const seen = new Set<number>();
  for (let i = 0; i < count; i++) {
    const at = i * TOC_ENTRY_SIZE;
    if (at + 2 * TOC_ENTRY_SIZE > toc.length) return null;
    const id = dv.getUint32(at);
    const offset = dv.getBigUint64(at + 4);
    const next = dv.getBigUint64(at + TOC_ENTRY_SIZE + 4);
    if (id === 0) return 'terminating chunk id appears earlier than expected';
    if (offset % 4n !== 0n) return `chunk id ${hex32(id)} not 4-byte aligned`;
    if (next < offset || next > limit) return `improper chunk offset(s) ${offset.toString(16)} and ${next.toString(16)}`;
    if (seen.has(id)) return `duplicate chunk ID ${hex32(id)} found`;
    seen.add(id);
    chunks.push({ id, offset: Number(offset), size: Number(next - offset) });
  }
  if ((count + 1) * TOC_ENTRY_SIZE > toc.length) return null;
  const finalId = dv.getUint32(count * TOC_ENTRY_SIZE);
  if (finalId !== 0) return `final chunk has non-zero id ${hex32(finalId)}`;
  return chunks;
}

/**
 * Parses `count` ToC entries starting at toc[0] (the bytes at file offset 12),
 * with git's checks in git's order (gitToc), plus the two defensive bounds checks
 * the spec recommends. Returns the chunks, or an error message in git's words.
 */
export function parseToc(toc: Uint8Array, count: number, fileSize: number, hashLength: number): ChunkRange[] | string {
  const tocEnd = MIDX_HEADER_SIZE + TOC_ENTRY_SIZE * (count + 1);
  if (tocEnd > fileSize - hashLength || (count + 1) * TOC_ENTRY_SIZE > toc.length) return `table of contents (${count} chunks) does not fit in the file`;
  const chunks = gitToc(toc, count, fileSize, hashLength)!;
  if (typeof chunks === 'string') return chunks;
  // git does not check this; a reader that trusts no file does
  if (chunks.length && chunks[0].offset < tocEnd) return `first chunk at ${chunks[0].offset} overlaps the table of contents`;
  return chunks;
}
