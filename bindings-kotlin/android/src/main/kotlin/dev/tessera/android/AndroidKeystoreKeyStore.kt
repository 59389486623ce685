package dev.tessera.android

import android.content.Context
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import dev.tessera.KeyStore
import dev.tessera.PlatformException
import java.io.File
import java.io.FileOutputStream
import java.security.GeneralSecurityException
import java.security.MessageDigest
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext

/**
 * A [KeyStore] for Android apps: every entry is sealed with AES-256-GCM under a key that
 * lives in the Android Keystore (hardware-backed where the device has it; the key never
 * leaves it) and written to the app's no-backup directory, one file per entry.
 *
 * NOT COMPILED OR TESTED ON THIS PROJECT'S CI: the build machine has no Android SDK. It uses
 * only documented platform APIs (API level 23+) and mirrors `FileKeyStore`, which is
 * tested. Check it on a device before relying on it.
 *
 * - File names are the SHA-256 of the entry name (hex); the entry name is also bound as
 *   AES-GCM associated data, so a file copied onto another name does not open.
 * - Writes go to a temporary file that is synced and renamed over the entry (atomic).
 * - `noBackupFilesDir` keeps the sealed entries out of Auto Backup: the Keystore key
 *   cannot be restored on another device anyway. Use Tessera's password backup instead.
 * - [keyAlias] names the Keystore key; use one per app (the default is fine).
 */
class AndroidKeystoreKeyStore(
    context: Context,
    private val keyAlias: String = "dev.tessera.key-store",
    directoryName: String = "tessera-key-store",
) : KeyStore {
    private val directory = File(context.noBackupFilesDir, directoryName).apply { mkdirs() }

    private fun wrappingKey(): SecretKey {
        val keystore = java.security.KeyStore.getInstance("AndroidKeyStore").apply { load(null) }
        (keystore.getKey(keyAlias, null) as? SecretKey)?.let { return it }
        val generator = KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, "AndroidKeyStore")
        generator.init(
            KeyGenParameterSpec.Builder(keyAlias, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
                .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
                .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
                .setKeySize(256)
                .build(),
        )
        return generator.generateKey()
    }

    private fun fileOf(name: String): File {
        val digest = MessageDigest.getInstance("SHA-256").digest(name.toByteArray(Charsets.UTF_8))
        return File(directory, digest.joinToString("") { "%02x".format(it) })
    }

    private inline fun <T> failing(what: String, block: () -> T): T =
        try {
            block()
        } catch (e: GeneralSecurityException) {
            throw PlatformException.Failed("AndroidKeystoreKeyStore could not $what: $e")
        } catch (e: java.io.IOException) {
            throw PlatformException.Failed("AndroidKeystoreKeyStore could not $what: $e")
        }

    override suspend fun get(name: String): ByteArray? = withContext(Dispatchers.IO) {
        failing("read an entry") {
            val file = fileOf(name)
            if (!file.exists()) return@failing null
            val sealed = file.readBytes()
            if (sealed.size < GCM_IV_BYTES) throw PlatformException.Failed("a stored entry is truncated")
            val cipher = Cipher.getInstance(TRANSFORMATION)
            cipher.init(Cipher.DECRYPT_MODE, wrappingKey(), GCMParameterSpec(128, sealed, 0, GCM_IV_BYTES))
            cipher.updateAAD(name.toByteArray(Charsets.UTF_8))
            cipher.doFinal(sealed, GCM_IV_BYTES, sealed.size - GCM_IV_BYTES)
        }
    }

    override suspend fun put(name: String, value: ByteArray) = withContext(Dispatchers.IO) {
        failing("write an entry") {
            val cipher = Cipher.getInstance(TRANSFORMATION)
            // The Keystore picks a fresh random IV for every encryption.
            cipher.init(Cipher.ENCRYPT_MODE, wrappingKey())
            cipher.updateAAD(name.toByteArray(Charsets.UTF_8))
            val sealed = cipher.iv + cipher.doFinal(value)
            val target = fileOf(name)
            val temporary = File.createTempFile(".tmp-", "", directory)
            try {
                FileOutputStream(temporary).use { out ->
                    out.write(sealed)
                    out.fd.sync()
                }
                if (!temporary.renameTo(target)) throw java.io.IOException("rename failed")
            } finally {
                temporary.delete()
            }
            Unit
        }
    }

    override suspend fun delete(name: String) = withContext(Dispatchers.IO) {
        failing("delete an entry") {
            val file = fileOf(name)
            if (file.exists() && !file.delete()) throw java.io.IOException("delete failed")
            Unit
        }
    }

    private companion object {
        const val TRANSFORMATION = "AES/GCM/NoPadding"
        const val GCM_IV_BYTES = 12
    }
}
