package dev.tessera

import java.time.Instant
import org.json.JSONArray
import org.json.JSONObject
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/** Every case of test-vectors/, through the generated bindings (as Rust and JS read them). */
class VectorsTest {
    private fun keyPairOf(rootHex: String) = KeyPair.fromRootSecret(rootHex.hexToBytes())

    private fun cardsOf(list: JSONArray): List<Card> = (0 until list.length()).map {
        val card = list.getJSONObject(it)
        Card.fromParts(card.getString("snapshot").hexToBytes(), card.getString("signature").hexToBytes())
    }

    private fun instantOf(case: JSONObject, key: String): Instant? =
        if (case.isNull(key) || !case.has(key)) null else Instant.ofEpochSecond(case.getLong(key))

    private fun cases(file: String): List<JSONObject> {
        val list = vectors(file).getJSONArray("cases")
        return (0 until list.length()).map { list.getJSONObject(it) }
    }

    private fun expectKind(kind: String, name: String, block: () -> Unit) {
        val error = assertThrows(CryptoException::class.java, block, name)
        assertEquals(kind, error.kind(), "$name: $error")
    }

    @Test
    fun `keys json - derived public keys and key ids`() {
        val all = cases("keys.json")
        assertTrue(all.isNotEmpty())
        for (c in all) {
            val keys = keyPairOf(c.getString("root_secret"))
            assertEquals(c.getString("ed25519_public_key"), keys.signingPublicKey().toHex())
            assertEquals(c.getString("x25519_public_key"), keys.encryptionPublicKey().toHex())
            assertEquals(c.getString("signing_key_id"), keys.signingKeyId().toHex())
            assertEquals(c.getString("encryption_key_id"), keys.encryptionKeyId().toHex())
        }
    }

    @Test
    fun `safety-numbers json - both argument orders`() {
        val when_ = Instant.ofEpochSecond(1767225600)
        for (c in cases("safety-numbers.json")) {
            val a = Card.create(keyPairOf(c.getString("root_secret_a")), c.getString("identity_a"), when_, null)
            val b = Card.create(keyPairOf(c.getString("root_secret_b")), c.getString("identity_b"), when_, null)
            assertEquals(c.getString("safety_number"), safetyNumber(a, b))
            assertEquals(c.getString("safety_number"), safetyNumber(b, a))
        }
    }

    @Test
    fun `cards json - valid cards parse and re-create byte for byte, invalid ones fail by kind`() {
        val all = cases("cards.json")
        assertTrue(all.any { it.getBoolean("valid") } && all.any { !it.getBoolean("valid") })
        for (c in all) {
            val name = c.getString("name")
            val parse = { Card.fromParts(c.getString("snapshot").hexToBytes(), c.getString("signature").hexToBytes()) }
            if (!c.getBoolean("valid")) {
                expectKind(c.getString("error"), name) { parse() }
                continue
            }
            val card = parse()
            assertEquals(c.getString("card_id"), card.id(), name)
            assertEquals(c.getString("identity"), card.identity())
            assertEquals(c.getString("text"), card.toText())
            assertEquals(c.getString("card_id"), Card.fromText(c.getString("text")).id())
            assertEquals(Instant.ofEpochSecond(c.getLong("created_at")), card.createdAt())
            assertEquals(c.optString("previous_card_id").takeIf { !c.isNull("previous_card_id") }, card.previousCardId())
            val remade = Card.create(
                keyPairOf(c.getString("root_secret")),
                c.getString("identity"),
                Instant.ofEpochSecond(c.getLong("created_at")),
                card.previousCardId(),
            )
            assertEquals(c.getString("snapshot"), remade.snapshot().toHex(), "$name: snapshot")
            assertEquals(c.getString("signature"), remade.signature().toHex(), "$name: Ed25519 is deterministic")
            assertEquals(card, remade)
        }
    }

    @Test
    fun `envelopes json - valid envelopes decrypt and verify, damaged ones fail by kind`() {
        val all = cases("envelopes.json")
        assertTrue(all.any { it.getBoolean("valid") } && all.any { !it.getBoolean("valid") })
        for (c in all) {
            val name = c.getString("name")
            val reader = keyPairOf(c.getString("decrypt_with_root_secret"))
            val chain = cardsOf(c.getJSONArray("sender_cards"))
            val run = { decryptMessage(reader, c.getString("envelope").hexToBytes(), chain, instantOf(c, "made_at")) }
            if (!c.getBoolean("valid")) {
                expectKind(c.getString("error"), name) { run() }
                continue
            }
            val result = run()
            assertEquals(c.getString("plaintext"), result.plaintext.toHex(), name)
            assertEquals(c.getString("signer_card_id"), result.signerCardId, name)
            assertEquals(chain.first { it.id() == result.signerCardId }.identity(), result.signer)
        }
    }

    @Test
    fun `backups json - blobs open to their identity, derivePasswords, failures by kind`() {
        var derived = 0
        for (c in cases("backups.json")) {
            val name = c.getString("name")
            if (c.has("derive_passwords")) {
                derived += 1
                val derive = {
                    derivePasswords(c.getString("derive_passwords"), appId = c.getString("app_id"), identity = c.getString("identity"))
                }
                if (!c.getBoolean("valid")) {
                    expectKind(c.getString("error"), name) { derive() }
                    continue
                }
                val passwords = derive()
                assertEquals(c.getString("login_password"), passwords.loginPassword(), name)
                assertEquals(c.getString("backup_password"), passwords.backupPassword(), name)
                // Printing the object (a log line) shows neither password.
                assertFalse(passwords.toString().contains(c.getString("login_password")), passwords.toString())
                assertFalse(passwords.toString().contains(c.getString("backup_password")), passwords.toString())
                continue
            }
            val open = { openBackup(c.getString("blob").hexToBytes(), c.getString("password")) }
            if (c.getBoolean("valid")) {
                val expected = keyPairOf(c.getString("root_secret"))
                assertArrayEquals(expected.signingPublicKey(), open().signingPublicKey(), name)
            } else {
                expectKind(c.getString("error"), name) { open() }
            }
        }
        assertTrue(derived > 0)
        // A fresh backup opens with its password only.
        val keys = KeyPair.generate()
        val blob = sealBackup(keys, "pässwörd")
        assertArrayEquals(keys.encryptionPublicKey(), openBackup(blob, "pässwörd").encryptionPublicKey())
        expectKind("wrong_password", "fresh blob") { openBackup(blob, "password") }
    }

    @Test
    fun `tokens json - the verifier accepts and rejects as specified`() {
        val file = vectors("tokens.json")
        val keys = file.getJSONArray("app_public_keys").let { list -> (0 until list.length()).map { list.getString(it).hexToBytes() } }
        val all = cases("tokens.json")
        assertTrue(all.any { it.getBoolean("valid") } && all.any { !it.getBoolean("valid") })
        for (c in all) {
            val name = c.getString("name")
            val verify = {
                verifyToken(c.getString("token"), file.getString("issuer"), file.getString("audience"), keys, Instant.ofEpochSecond(c.getLong("now")))
            }
            if (!c.getBoolean("valid")) {
                expectKind(c.getString("error"), name) { verify() }
                continue
            }
            val claims = verify()
            val expected = c.getJSONObject("claims")
            assertEquals(expected.getString("iss"), claims.iss, name)
            assertEquals(expected.getString("sub"), claims.sub, name)
            val aud = expected.get("aud")
            val audiences = if (aud is JSONArray) (0 until aud.length()).map { aud.getString(it) } else listOf(aud as String)
            assertEquals(audiences, claims.aud, name)
            assertEquals(expected.getLong("iat").toULong(), claims.iat, name)
            assertEquals(expected.getLong("exp").toULong(), claims.exp, name)
            assertEquals(if (expected.has("nbf")) expected.getLong("nbf").toULong() else null, claims.nbf, name)
        }
    }

    private fun epochsOf(list: JSONArray): List<EpochKey> = (0 until list.length()).map {
        val e = list.getJSONObject(it)
        val participants = e.getJSONArray("participants")
        EpochKey(e.getInt("epoch").toUInt(), e.getString("secret").hexToBytes(), (0 until participants.length()).map { i -> participants.getString(i) })
    }

    private fun plain(epochs: List<EpochKey>) = epochs.map { Triple(it.epoch, it.secret.toHex(), it.participants) }.sortedBy { it.first }

    @Test
    fun `groups json - tickets open for their readers, group messages decrypt or fail by kind`() {
        var tickets = 0
        var messages = 0
        for (c in cases("groups.json")) {
            val name = c.getString("name")
            if (c.getString("kind") == "ticket") {
                val readers = c.getJSONArray("readers")
                for (i in 0 until readers.length()) {
                    tickets += 1
                    val reader = readers.getJSONObject(i)
                    val madeAt = instantOf(reader, "made_at") ?: instantOf(c, "made_at")
                    val open = {
                        openTicketBlob(
                            c.getString("blob").hexToBytes(),
                            keyPairOf(reader.getString("root_secret")),
                            c.getString("group_id"),
                            c.getInt("stored_epoch").toUInt(),
                            cardsOf(c.getJSONArray("initiator_cards")),
                            madeAt,
                        )
                    }
                    if (reader.getBoolean("valid")) {
                        assertEquals(plain(epochsOf(reader.getJSONArray("epochs"))), plain(open()), "$name / reader $i")
                    } else {
                        expectKind(reader.getString("error"), "$name / reader $i") { open() }
                    }
                }
                continue
            }
            messages += 1
            val message = c.getString("message").hexToBytes()
            val run = {
                decryptGroupMessage(c.getString("group_id"), epochsOf(c.getJSONArray("epochs")), message, cardsOf(c.getJSONArray("sender_cards")), instantOf(c, "made_at"))
            }
            if (!c.getBoolean("valid")) {
                expectKind(c.getString("error"), name) { run() }
                continue
            }
            assertEquals(c.getString("plaintext"), run().plaintext.toHex(), name)
            assertEquals(c.getInt("epoch").toUInt(), groupMessageInfo(message).epoch, name)
        }
        assertTrue(tickets > 0 && messages > 0)
        // A fresh group message round trip through the bindings.
        val alice = KeyPair.generate()
        val aliceCard = Card.create(alice, "alice", Instant.now(), null)
        val epoch = generateEpochKey(0u, listOf("alice", "bob"))
        val sealed = encryptGroupMessage(alice, "team-1", epoch, "hi team".toByteArray())
        assertEquals(GroupMessageInfo("team-1", 0u), groupMessageInfo(sealed))
        assertEquals("hi team", decryptGroupMessage("team-1", listOf(epoch), sealed, listOf(aliceCard), null).plaintext.decodeToString())
        expectKind("wrong_group", "other group") { decryptGroupMessage("team-2", listOf(epoch), sealed, listOf(aliceCard), null) }
    }
}
