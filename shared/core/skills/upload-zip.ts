/**
 * Reads an uploaded zip archive without trusting it: {@link zipMembers} lists the members its central
 * directory declares (names, methods, sizes) without inflating anything, and {@link memberBytes}
 * inflates one member with a hard cap on the bytes it may yield — its declared size — and checks
 * them against the size and CRC-32 the archive declares (a damaged upload is refused). A zip bomb that
 * declares a small size over a huge deflate stream costs at most one zlib output chunk (16 KiB) past
 * its declared size, never the whole stream (fflate's `unzipSync` decodes every stream to its end,
 * dropping what does not fit: a 4 MB upload cost a minute of CPU).
 *
 * The layout follows fflate's reader (end of central directory record, zip64 locator and extra
 * field), with every offset checked against the archive's length. Only stored (0) and deflated (8)
 * members are read, as before. Inflation is Node's zlib, taken with `process.getBuiltinModule` when a
 * member is inflated: processes that never read an upload never load it.
 */

/** An archive whose structure cannot be read (its message says what is wrong). */
export class ZipFormatError extends Error {
  override name = "ZipFormatError";
}

/** One member as the central directory declares it. */
export interface ZipMember {
  /** Its name as stored (UTF-8 when flagged so, Latin-1 otherwise). */
  name: string;
  /** 0 stored, 8 deflated. */
  method: number;
  compressedSize: number;
  /** The uncompressed size the archive declares: what {@link memberBytes} lets it inflate to. */
  declaredSize: number;
  /** The CRC-32 of its uncompressed bytes, as declared: {@link memberBytes} checks it. */
  crc32: number;
  /** Where its local header starts. */
  headerOffset: number;
}

const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_END = 0x06064b50;
const CENTRAL_HEADER = 0x02014b50;
const LOCAL_HEADER = 0x04034b50;
const UTF8_NAME_FLAG = 0x800;
const ZIP64_MARK = 0xffffffff;

const utf8 = new TextDecoder();

/** The members the central directory declares, in order; nothing is inflated. */
export function* zipMembers(zip: Uint8Array): Generator<ZipMember> {
  const u16 = (at: number) => readU16(zip, at);
  const u32 = (at: number) => readU32(zip, at);
  const u64 = (at: number) => u32(at) + u32(at + 4) * 0x100000000;

  // The end of central directory record: the last 22 bytes, or earlier by a comment of up to 64 KiB.
  let end = zip.length - 22;
  while (end >= 0 && u32(end) !== END_OF_CENTRAL_DIRECTORY) {
    if (zip.length - end > 22 + 0xffff) end = -1;
    else end--;
  }
  if (end < 0) throw new ZipFormatError("no end of central directory record: not a zip archive");
  let count = u16(end + 10);
  let at = u32(end + 16);
  const zip64 = end >= 20 && u32(end - 20) === ZIP64_LOCATOR;
  if (zip64) {
    const record = u64(end - 12);
    if (u32(record) !== ZIP64_END) throw new ZipFormatError("bad zip64 end of central directory record");
    count = u64(record + 32);
    at = u64(record + 48);
  }
  for (let i = 0; i < count; i++) {
    if (u32(at) !== CENTRAL_HEADER) throw new ZipFormatError(`bad central directory entry ${i + 1}`);
    const flags = u16(at + 8);
    const nameLength = u16(at + 28);
    const extraLength = u16(at + 30);
    const commentLength = u16(at + 32);
    const nameAt = at + 46;
    if (nameAt + nameLength + extraLength + commentLength > zip.length)
      throw new ZipFormatError("truncated central directory");
    const rawName = zip.subarray(nameAt, nameAt + nameLength);
    const name = flags & UTF8_NAME_FLAG ? utf8.decode(rawName) : latin1(rawName);
    let compressedSize = u32(at + 20);
    let declaredSize = u32(at + 24);
    let headerOffset = u32(at + 42);
    if (compressedSize === ZIP64_MARK || declaredSize === ZIP64_MARK || headerOffset === ZIP64_MARK) {
      // The zip64 extended information extra field (id 1) holds the marked fields, in this order.
      const extraEnd = nameAt + nameLength + extraLength;
      let field = nameAt + nameLength;
      while (field + 4 <= extraEnd && u16(field) !== 1) field += 4 + u16(field + 2);
      if (field + 4 > extraEnd) throw new ZipFormatError(`zip member ${name} has no zip64 sizes`);
      let value = field + 4;
      const next = () => {
        const v = u64(value);
        value += 8;
        return v;
      };
      if (declaredSize === ZIP64_MARK) declaredSize = next();
      if (compressedSize === ZIP64_MARK) compressedSize = next();
      if (headerOffset === ZIP64_MARK) headerOffset = next();
    }
    yield { name, method: u16(at + 10), compressedSize, declaredSize, crc32: u32(at + 16), headerOffset };
    at = nameAt + nameLength + extraLength + commentLength;
  }
}

/**
 * A member's bytes, or `undefined` when it holds more than it declares (a stored member longer than
 * its declared size, or a deflate stream that yields more): inflation stops as soon as the output
 * passes the declared size, so such a member costs at most one zlib chunk past it.
 *
 * @throws ZipFormatError for a member outside the archive, an unknown method, a broken stream, or
 *   bytes that are not what the archive declares (fewer than its size, another CRC-32): a damaged
 *   upload is refused, not stored.
 */
export function memberBytes(zip: Uint8Array, member: ZipMember): Uint8Array | undefined {
  const bytes = declaredOrMore(zip, member);
  if (bytes === undefined) return undefined;
  if (bytes.byteLength !== member.declaredSize)
    throw new ZipFormatError(
      `zip member ${member.name} holds ${bytes.byteLength} bytes, not the ${member.declaredSize} it declares`,
    );
  if (process.getBuiltinModule("node:zlib").crc32(bytes) !== member.crc32)
    throw new ZipFormatError(`zip member ${member.name} is damaged: its CRC-32 is not the one declared`);
  return bytes;
}

/** The member's bytes, up to its declared size; `undefined` past it. */
function declaredOrMore(zip: Uint8Array, member: ZipMember): Uint8Array | undefined {
  const { name, headerOffset } = member;
  if (readU32(zip, headerOffset) !== LOCAL_HEADER)
    throw new ZipFormatError(`zip member ${name}: no local header at offset ${headerOffset}`);
  const dataAt = headerOffset + 30 + readU16(zip, headerOffset + 26) + readU16(zip, headerOffset + 28);
  if (dataAt + member.compressedSize > zip.length)
    throw new ZipFormatError(`zip member ${name} runs past the end of the archive`);
  const data = zip.subarray(dataAt, dataAt + member.compressedSize);
  if (member.method === 0) return data.length > member.declaredSize ? undefined : data.slice();
  if (member.method !== 8)
    throw new ZipFormatError(
      `zip member ${name} uses compression method ${member.method}; only stored and deflated members can be read`,
    );
  let out: Uint8Array;
  try {
    // One byte over the declared size is enough to know it lies; zlib stops as soon as it passes.
    out = process
      .getBuiltinModule("node:zlib")
      .inflateRawSync(data, { maxOutputLength: member.declaredSize + 1 });
  } catch (error) {
    if ((error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") return undefined;
    throw new ZipFormatError(`zip member ${name}: ${(error as Error).message}`);
  }
  if (out.byteLength > member.declaredSize) return undefined;
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

function readU16(zip: Uint8Array, at: number): number {
  if (at < 0 || at + 2 > zip.length) throw new ZipFormatError("truncated archive");
  return (zip[at] as number) | ((zip[at + 1] as number) << 8);
}

const readU32 = (zip: Uint8Array, at: number) => readU16(zip, at) + readU16(zip, at + 2) * 0x10000;

const latin1 = (bytes: Uint8Array) => Array.from(bytes, (b) => String.fromCharCode(b)).join("");
