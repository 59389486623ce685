package dev.tessera

import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.Paths
import java.time.Instant
import org.json.JSONArray
import org.json.JSONObject
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.DynamicTest
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestFactory

/**
 * Cross-language: messages written by tessera-client in Rust (and by the npm package when its
 * test run left `from-npm.json`) decrypt here, and messages written here are checked by Rust
 * afterwards (scripts/build-kotlin --test, `tessera-interop read kotlin`). Fixed test keys only:
 * rust-side 0x11 × 32, npm-side 0x22 × 32, kotlin-side 0x33 × 32.
 */
class InteropTest {
    private val interopDir: Path = Paths.get(requiredEnv("TESSERA_INTEROP_DIR"))
    private fun fixed(seed: Int) = KeyPair.fromRootSecret(ByteArray(32) { seed.toByte() })
    private val when_ = Instant.ofEpochSecond(1767225600)

    private fun decryptAll(file: Path, reader: KeyPair, senderIdentity: String, senderSeed: Int): Int {
        val json = JSONObject(Files.readString(file))
        val sender = Card.fromText(json.getString("sender_card"))
        assertEquals(senderIdentity, sender.identity())
        assertArrayEquals(fixed(senderSeed).signingPublicKey(), sender.signingPublicKey())
        val messages = json.getJSONArray("messages")
        assertTrue(messages.length() >= 3, "at least 3 messages in $file")
        for (i in 0 until messages.length()) {
            val message = messages.getJSONObject(i)
            val envelope = message.getString("envelope").hexToBytes()
            val result = decryptMessage(reader, envelope, listOf(sender), null)
            assertEquals(message.getString("plaintext"), result.plaintext.toHex(), "$file message $i")
            assertEquals(senderIdentity, result.signer)
            assertEquals(sender.id(), result.signerCardId)
            val tampered = envelope.copyOf().also { it[it.size - 1] = (it[it.size - 1].toInt() xor 1).toByte() }
            assertThrows(CryptoException.Decrypt::class.java) { decryptMessage(reader, tampered, listOf(sender), null) }
        }
        return messages.length()
    }

    /**
     * One test per implementation whose file is present: Rust's always (written by
     * scripts/build-kotlin --test just before), the npm package's when scripts/test-npm ran earlier
     * in the same scripts/test run (scripts/build-kotlin then sets TESSERA_NPM_INTEROP_FILE).
     */
    @TestFactory
    fun `messages from the other implementations decrypt and verify in Kotlin`(): List<DynamicTest> {
        val tests = mutableListOf(
            DynamicTest.dynamicTest("tessera-client (Rust) -> Kotlin") {
                assertEquals(3, decryptAll(interopDir.resolve("from-rust.json"), fixed(0x33), "rust-side", 0x11))
            },
        )
        System.getenv("TESSERA_NPM_INTEROP_FILE")?.let { npmFile ->
            tests += DynamicTest.dynamicTest("npm package (WASM) -> Kotlin") {
                assertTrue(decryptAll(Paths.get(npmFile), fixed(0x11), "npm-side", 0x22) >= 3)
            }
        }
        return tests
    }

    @Test
    fun `messages encrypted in Kotlin are written for Rust to check`() {
        val me = Card.create(fixed(0x33), "kotlin-side", when_, null)
        val rust = Card.create(fixed(0x11), "rust-side", when_, null)
        val long = ByteArray(300_001) { ((it * 7) % 256).toByte() }
        val messages = JSONArray()
        for (plaintext in listOf(ByteArray(0), "hello from Kotlin".toByteArray(), long)) {
            val envelope = encryptMessage(fixed(0x33), listOf(rust), plaintext)
            messages.put(JSONObject().put("envelope", envelope.toHex()).put("plaintext", plaintext.toHex()))
        }
        Files.writeString(
            interopDir.resolve("from-kotlin.json"),
            JSONObject().put("sender_card", me.toText()).put("messages", messages).toString(),
        )
    }
}
