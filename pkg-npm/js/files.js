// Blob / File / ReadableStream plumbing for file encryption and decryption: reads the
// input piece by piece into a wasm stream object and collects what it returns. Progress
// reports and the AbortSignal are the wasm stream's (tessera-client's stream options);
// no cryptography and no decisions here.

import { invalidInput } from './errors.js';

function bytesOf(value) {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  throw invalidInput('a stream chunk must be a Uint8Array, ArrayBuffer or typed array');
}

export function isBlob(value) {
  return typeof Blob !== 'undefined' && value instanceof Blob;
}

export function isReadableStream(value) {
  return typeof ReadableStream !== 'undefined' && value instanceof ReadableStream;
}

/**
 * The wasm stream's last arguments for `input` and the file options: `onProgress`,
 * `signal` and the size when known (a Blob's). Throws for a bad input, onProgress or signal.
 */
export function streamArgs(input, options) {
  if (!isBlob(input) && !isReadableStream(input)) {
    throw invalidInput('expected a Blob, a File or a ReadableStream');
  }
  const { onProgress, signal } = options;
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw invalidInput('onProgress must be a function');
  }
  if (signal !== undefined && signal !== null && !(signal instanceof AbortSignal)) {
    throw invalidInput('signal must be an AbortSignal');
  }
  return [onProgress, signal ?? undefined, isBlob(input) ? input.size : undefined];
}

/**
 * Runs `input` through a wasm stream object (`update(chunk)` per piece, then `finish()`
 * for the last bytes) and frees it at the end.
 * Blob/File in: a Promise of a Blob (a File with the same name for File input), complete
 * only after `finish` succeeded. ReadableStream in: a ReadableStream out, erroring if
 * `finish` fails (for decryption, bytes before the end are not yet attributed to the sender).
 */
export function transform(input, stream, finish) {
  return isBlob(input) ? transformBlob(input, stream, finish) : transformStream(input, stream, finish);
}

async function transformBlob(blob, stream, finish) {
  const reader = blob.stream().getReader();
  const parts = [];
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const out = stream.update(bytesOf(value));
      if (out.length > 0) parts.push(out);
    }
    const tail = finish();
    if (tail.length > 0) parts.push(tail);
  } catch (error) {
    reader.cancel().catch(() => {});
    throw error;
  } finally {
    stream.free();
  }
  const type = blob.type;
  if (typeof File !== 'undefined' && blob instanceof File) {
    return new File(parts, blob.name, { type });
  }
  return new Blob(parts, { type });
}

function transformStream(input, stream, finish) {
  const reader = input.getReader();
  let live = true;
  const release = () => {
    if (live) stream.free();
    live = false;
  };
  return new ReadableStream({
    // Loops until it has output: a pull that enqueues nothing would stall the reader.
    async pull(controller) {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) {
            const tail = finish();
            release();
            if (tail.length > 0) controller.enqueue(tail);
            controller.close();
            return;
          }
          const out = stream.update(bytesOf(value));
          if (out.length > 0) {
            controller.enqueue(out);
            return;
          }
        }
      } catch (error) {
        release();
        await reader.cancel().catch(() => {});
        throw error;
      }
    },
    cancel(reason) {
      release();
      return reader.cancel(reason);
    },
  });
}
