package dev.tessera

import java.io.InputStream
import java.io.OutputStream

/** Size of the pieces the `pipe` helpers read: one envelope chunk. */
const val STREAM_PIECE_BYTES: Int = 64 * 1024

/**
 * Encrypts everything [input] yields into [output] (neither is closed) and returns the
 * number of plaintext bytes read. Memory stays at about one 64 KiB chunk whatever the
 * size. Progress and cancellation come from the stream's `StreamOptions`.
 */
fun EncryptStream.pipe(input: InputStream, output: OutputStream, pieceBytes: Int = STREAM_PIECE_BYTES): Long {
    val buffer = ByteArray(pieceBytes)
    var total = 0L
    while (true) {
        val read = input.read(buffer)
        if (read < 0) break
        if (read == 0) continue
        total += read
        output.write(update(if (read == buffer.size) buffer else buffer.copyOf(read)))
    }
    output.write(finish())
    output.flush()
    return total
}

/**
 * Decrypts the envelope [input] yields into [output] (neither is closed) and verifies the
 * sender's signature at the end. Returns who signed; its `plaintext` is empty because all
 * of it went to [output].
 *
 * Until this returns, the author of what was written is not proven: if it throws, discard
 * [output]'s content.
 */
fun DecryptStream.pipe(input: InputStream, output: OutputStream, pieceBytes: Int = STREAM_PIECE_BYTES): Decrypted {
    val buffer = ByteArray(pieceBytes)
    while (true) {
        val read = input.read(buffer)
        if (read < 0) break
        if (read == 0) continue
        output.write(update(if (read == buffer.size) buffer else buffer.copyOf(read)))
    }
    val last = finish()
    output.write(last.plaintext)
    output.flush()
    return last.copy(plaintext = ByteArray(0))
}
