// Blob / File / ReadableStream plumbing for file encryption and decryption: reads the
// input piece by piece, feeds a wasm stream object, reports progress and honours an
// AbortSignal. No cryptography here; the stream objects come from the wasm adapter.

import { AbortError, invalidInput } from './errors.js';

function aborted() {
  return new AbortError('the operation was cancelled', 'cancelled');
}

function bytesOf(value) {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  throw invalidInput('a stream chunk must be a Uint8Array, ArrayBuffer or typed array');
}

function isBlob(value) {
  return typeof Blob !== 'undefined' && value instanceof Blob;
}

function isReadableStream(value) {
  return typeof ReadableStream !== 'undefined' && value instanceof ReadableStream;
}

/** Throws for a bad onProgress, or AbortError when the signal has already fired. */
export function checkFileOptions(options) {
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') {
    throw invalidInput('onProgress must be a function');
  }
  if (options.signal?.aborted) throw aborted();
}

/**
 * Runs `input` through `step(chunk) -> Uint8Array` and `end() -> Uint8Array`.
 * Blob/File in: a Promise of a Blob (a File with the same name for File input), complete
 * only after `end` succeeded. ReadableStream in: a ReadableStream out, erroring if `end`
 * fails (for decryption, bytes before the end are not yet attributed to the sender).
 */
export function transform(input, step, end, options = {}) {
  checkFileOptions(options);
  if (isBlob(input)) return transformBlob(input, step, end, options);
  if (isReadableStream(input)) return transformStream(input, step, end, options);
  throw invalidInput('expected a Blob, a File or a ReadableStream');
}

async function transformBlob(blob, step, end, { onProgress, signal }) {
  const reader = blob.stream().getReader();
  const parts = [];
  let processed = 0;
  const onAbort = () => reader.cancel().catch(() => {});
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      if (signal?.aborted) throw aborted();
      const { done, value } = await reader.read();
      if (signal?.aborted) throw aborted();
      if (done) break;
      const chunk = bytesOf(value);
      const out = step(chunk);
      if (out.length > 0) parts.push(out);
      processed += chunk.byteLength;
      onProgress?.({ bytesProcessed: processed, fileSize: blob.size });
    }
    const tail = end();
    if (tail.length > 0) parts.push(tail);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  const type = blob.type;
  if (typeof File !== 'undefined' && blob instanceof File) {
    return new File(parts, blob.name, { type });
  }
  return new Blob(parts, { type });
}

function transformStream(input, step, end, { onProgress, signal }) {
  const reader = input.getReader();
  let processed = 0;
  return new ReadableStream({
    // Loops until it has output: a pull that enqueues nothing would stall the reader.
    async pull(controller) {
      for (;;) {
        if (signal?.aborted) {
          await reader.cancel().catch(() => {});
          throw aborted();
        }
        const { done, value } = await reader.read();
        if (signal?.aborted) {
          await reader.cancel().catch(() => {});
          throw aborted();
        }
        if (done) {
          const tail = end();
          if (tail.length > 0) controller.enqueue(tail);
          controller.close();
          return;
        }
        const chunk = bytesOf(value);
        const out = step(chunk);
        processed += chunk.byteLength;
        onProgress?.({ bytesProcessed: processed, fileSize: undefined });
        if (out.length > 0) {
          controller.enqueue(out);
          return;
        }
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}
