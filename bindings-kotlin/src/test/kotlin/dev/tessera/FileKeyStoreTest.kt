package dev.tessera

import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.attribute.PosixFilePermissions
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir

/** The key store contract (docs/CLIENT.md "KeyStore") for [FileKeyStore]. */
class FileKeyStoreTest {
    @TempDir
    lateinit var temp: Path

    @Test
    fun `get, put, replace and delete follow the contract`(): Unit = runBlocking {
        val store = FileKeyStore(temp.resolve("keys"))
        val name = "tessera/alice@example.com/cards/b%2Fob"
        assertNull(store.get(name))
        store.delete(name) // missing: fine
        store.put(name, byteArrayOf(1, 2, 3))
        assertArrayEquals(byteArrayOf(1, 2, 3), store.get(name))
        store.put(name, ByteArray(0))
        assertArrayEquals(ByteArray(0), store.get(name))
        store.put("tessera/alice/root-secret", ByteArray(32) { 9 })
        // A second instance over the same directory sees the same entries.
        assertArrayEquals(ByteArray(32) { 9 }, FileKeyStore(temp.resolve("keys")).get("tessera/alice/root-secret"))
        store.delete(name)
        assertNull(store.get(name))
        // Long names (up to ~400 bytes) are fine: files are named by a hash.
        val long = "tessera/" + "x".repeat(400)
        store.put(long, byteArrayOf(7))
        assertArrayEquals(byteArrayOf(7), store.get(long))
    }

    @Test
    fun `only the owner can read the files and no temporary files are left`(): Unit = runBlocking {
        val directory = temp.resolve("private")
        val store = FileKeyStore(directory)
        repeat(5) { store.put("tessera/a/root-secret", ByteArray(32) { i -> (i + it).toByte() }) }
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(directory)))
        val files = Files.list(directory).use { it.toList() }
        assertEquals(1, files.size, "one entry file, no leftovers: $files")
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(files[0])))
    }

    @Test
    fun `failures are reported as PlatformException`() {
        val directory = temp.resolve("blocked")
        val store = FileKeyStore(directory)
        // A directory where the entry file should be makes reading fail.
        runBlocking { store.put("tessera/a/card", byteArrayOf(1)) }
        val file = Files.list(directory).use { it.toList() }.single()
        Files.delete(file)
        Files.createDirectory(file)
        assertThrows(PlatformException.Failed::class.java) { runBlocking { store.get("tessera/a/card") } }
    }
}
