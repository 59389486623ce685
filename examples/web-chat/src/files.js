// What a file message encrypts: its name and type travel inside the ciphertext with its
// bytes, so the server learns neither. Layout: 4-byte big-endian length of a UTF-8 JSON
// header `{ name, type, size }`, the header, then the file's bytes.

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** A File → the Blob to encrypt (header + contents; the contents are not copied). */
export function packFile(file) {
  const header = utf8.encode(JSON.stringify({ name: file.name, type: file.type, size: file.size }));
  const length = new Uint8Array(4);
  new DataView(length.buffer).setUint32(0, header.length);
  return new Blob([length, header, file]);
}

/** A decrypted Blob → `{ name, type, size, blob }`; throws on a malformed header. */
export async function unpackFile(blob) {
  const length = new DataView(await blob.slice(0, 4).arrayBuffer()).getUint32(0);
  if (length > 4096 || blob.size < 4 + length) throw new Error('malformed file message');
  const header = JSON.parse(fromUtf8.decode(await blob.slice(4, 4 + length).arrayBuffer()));
  const type = typeof header.type === 'string' ? header.type : '';
  const contents = blob.slice(4 + length, blob.size, type || 'application/octet-stream');
  return { name: String(header.name ?? 'file'), type, size: contents.size, blob: contents };
}
