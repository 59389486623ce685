package dev.tessera

import java.io.IOException
import java.nio.file.AtomicMoveNotSupportedException
import java.nio.file.Files
import java.nio.file.NoSuchFileException
import java.nio.file.Path
import java.nio.file.StandardCopyOption
import java.nio.file.StandardOpenOption
import java.nio.file.attribute.PosixFilePermissions
import java.security.MessageDigest
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext

/**
 * A [KeyStore] for JVM apps (servers, desktop tools, tests): one file per entry in
 * [directory], readable by the current OS user only (directory mode 0700, files 0600 on
 * POSIX file systems, set when the file is created, never widened).
 *
 * Entry names (ASCII, up to ~400 bytes, containing `/`) are stored as the SHA-256 of the
 * name in hex, so every name is a valid, short file name. Writes go to a temporary file in
 * the same directory that is flushed to disk and then atomically renamed over the entry:
 * a reader sees the old or the new value, never a mix.
 *
 * The files hold the user's root secret unencrypted: they are as safe as the OS account.
 * On Android use `AndroidKeystoreKeyStore` (bindings-kotlin/android); on Apple platforms
 * `KeychainKeyStore` (bindings-swift).
 */
class FileKeyStore(val directory: Path) : KeyStore {
    private val posix = directory.fileSystem.supportedFileAttributeViews().contains("posix")

    init {
        if (!Files.isDirectory(directory)) {
            if (posix) {
                Files.createDirectories(
                    directory,
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")),
                )
            } else {
                Files.createDirectories(directory)
            }
        }
    }

    private fun fileOf(name: String): Path {
        val digest = MessageDigest.getInstance("SHA-256").digest(name.toByteArray(Charsets.UTF_8))
        return directory.resolve(digest.joinToString("") { "%02x".format(it) })
    }

    private inline fun <T> failing(what: String, block: () -> T): T =
        try {
            block()
        } catch (e: IOException) {
            // The exception names only our hashed file names, never values.
            throw PlatformException.Failed("FileKeyStore could not $what: $e")
        }

    override suspend fun get(name: String): ByteArray? = withContext(Dispatchers.IO) {
        failing("read an entry") {
            try {
                Files.readAllBytes(fileOf(name))
            } catch (e: NoSuchFileException) {
                null
            }
        }
    }

    override suspend fun put(name: String, value: ByteArray) = withContext(Dispatchers.IO) {
        failing("write an entry") {
            val target = fileOf(name)
            val temporary = if (posix) {
                Files.createTempFile(
                    directory,
                    ".tmp-",
                    "",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")),
                )
            } else {
                Files.createTempFile(directory, ".tmp-", "")
            }
            try {
                Files.newByteChannel(temporary, StandardOpenOption.WRITE, StandardOpenOption.SYNC).use { channel ->
                    val buffer = java.nio.ByteBuffer.wrap(value)
                    while (buffer.hasRemaining()) channel.write(buffer)
                }
                try {
                    Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING)
                } catch (e: AtomicMoveNotSupportedException) {
                    Files.move(temporary, target, StandardCopyOption.REPLACE_EXISTING)
                }
            } finally {
                Files.deleteIfExists(temporary)
            }
            Unit
        }
    }

    override suspend fun delete(name: String) = withContext(Dispatchers.IO) {
        failing("delete an entry") {
            Files.deleteIfExists(fileOf(name))
            Unit
        }
    }

    override fun toString(): String = "FileKeyStore($directory)"
}
