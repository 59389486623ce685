package dev.tessera

import java.io.ByteArrayInputStream
import java.io.ByteArrayOutputStream
import java.io.IOException
import java.nio.file.Path
import java.time.Instant
import java.util.Collections
import kotlin.random.Random
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.io.TempDir

/** The client through the generated bindings, against a real tessera-server. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ClientTest {
    private lateinit var server: TestServer

    @TempDir
    lateinit var temp: Path

    @BeforeAll
    fun startServer() {
        server = TestServer()
    }

    @AfterAll
    fun stopServer() {
        server.close()
    }

    private suspend fun client(
        identity: String,
        keyStore: KeyStore = inMemoryKeyStore(),
        listener: KeyChangedListener? = null,
    ): Tessera = Tessera.initialize(
        TesseraConfig(
            serverUrl = server.url,
            keyStore = keyStore,
            tokenProvider = server.tokens(identity),
            keyChangedListener = listener,
        ),
    )

    private suspend fun registered(prefix: String, keyStore: KeyStore = inMemoryKeyStore()): Tessera =
        client(uniqueIdentity(prefix), keyStore).also { it.register() }

    @Test
    fun `register, find, encrypt and decrypt between two users`(): Unit = runBlocking {
        val alice = registered("alice")
        val bob = registered("bob")
        assertTrue(alice.hasLocalPrivateKey())
        assertEquals(alice.identity(), alice.ownCard()!!.identity())

        val found = alice.findUsers(listOf(bob.identity()))
        assertEquals(listOf(bob.identity()), found.identities())
        assertEquals(bob.ownCard(), found.get(bob.identity()))
        val message = "hello from Kotlin".toByteArray()
        val ciphertext = alice.authEncrypt(message, found)

        val aliceCard = bob.findUsers(listOf(alice.identity())).get(alice.identity())!!
        assertArrayEquals(message, bob.authDecrypt(ciphertext, aliceCard, null))
        // The sender is always a recipient.
        assertArrayEquals(message, alice.authDecrypt(ciphertext, alice.ownCard()!!, null))
        // Cached look-ups need no network and return the same verified card.
        assertEquals(aliceCard, bob.findCachedUsers(listOf(alice.identity())).get(alice.identity()))
        assertEquals(bob.safetyNumber(aliceCard), alice.safetyNumber(bob.ownCard()!!))
        assertEquals(60, alice.safetyNumber(bob.ownCard()!!).count { it.isDigit() })

        // Damaged data, the wrong sender and a non-recipient fail with typed exceptions.
        val tampered = ciphertext.copyOf().also { it[it.size - 1] = (it[it.size - 1].toInt() xor 1).toByte() }
        assertTessera<TesseraException.DecryptionFailed>("decryption_failed") { bob.authDecrypt(tampered, aliceCard, null) }
        assertTessera<TesseraException.WrongSender>("wrong_sender") { bob.authDecrypt(ciphertext, bob.ownCard()!!, null) }
        val carol = registered("carol")
        assertTessera<TesseraException.NotARecipient>("not_a_recipient") { carol.authDecrypt(ciphertext, aliceCard, null) }
    }

    @Test
    fun `backup on one device, restore on a second key store`(): Unit = runBlocking {
        val identity = uniqueIdentity("dana")
        val firstStore = FileKeyStore(temp.resolve("device-1"))
        val first = client(identity, firstStore)
        first.register()
        first.backupPrivateKey("correct horse")
        assertTessera<TesseraException.BackupAlreadyExists>("backup_already_exists") { first.backupPrivateKey("again") }
        val note = first.authEncrypt("for later".toByteArray(), FoundUsers.fromCards(emptyList()))

        val second = client(identity, FileKeyStore(temp.resolve("device-2")))
        assertFalse(second.hasLocalPrivateKey())
        assertNull(second.ownCard())
        assertTessera<TesseraException.AlreadyRegistered>("already_registered") { second.register() }
        assertTessera<TesseraException.MissingPrivateKey>("missing_private_key") {
            second.authEncrypt(ByteArray(1), FoundUsers.fromCards(emptyList()))
        }
        assertTessera<TesseraException.WrongPassword>("wrong_password") { second.restorePrivateKey("wrong horse") }
        second.restorePrivateKey("correct horse")
        assertTrue(second.hasLocalPrivateKey())
        assertArrayEquals("for later".toByteArray(), second.authDecrypt(note, first.ownCard()!!, null))
        assertTessera<TesseraException.PrivateKeyAlreadyExists>("private_key_already_exists") {
            second.restorePrivateKey("correct horse")
        }

        // The key survives a restart: a new instance over the same files has it.
        val reopened = client(identity, FileKeyStore(temp.resolve("device-2")))
        assertTrue(reopened.hasLocalPrivateKey())
        assertEquals(first.ownCard(), reopened.ownCard())

        second.changePassword("correct horse", "battery staple")
        second.cleanup()
        assertFalse(second.hasLocalPrivateKey())
        assertTessera<TesseraException.WrongPassword>("wrong_password") { second.restorePrivateKey("correct horse") }
        second.restorePrivateKey("battery staple")
        second.resetPrivateKeyBackup()
        second.cleanup()
        assertTessera<TesseraException.NoBackup>("no_backup") { second.restorePrivateKey("battery staple") }
    }

    @Test
    fun `rotation after a lost key - listeners, madeAt and the card chain`(): Unit = runBlocking {
        val changed = Collections.synchronizedList(mutableListOf<String>())
        val alice = client(uniqueIdentity("alice"), listener = object : KeyChangedListener {
            override fun keyChanged(identity: String) {
                changed.add(identity)
            }
        })
        alice.register()
        val bobIdentity = uniqueIdentity("bob")
        val bob = client(bobIdentity)
        val firstCard = bob.register()
        alice.findUsers(listOf(bobIdentity))
        val toAlice = FoundUsers.fromCards(listOf(alice.ownCard()!!))
        val oldMessage = bob.authEncrypt("before the rotation".toByteArray(), toAlice)
        val madeAt = Instant.now()
        // Card times are whole seconds: the new card must be from a later second.
        Thread.sleep(1100)

        // Bob lost his device: a new one without the key rotates.
        val bobAgain = client(bobIdentity)
        assertTessera<TesseraException.AlreadyRegistered>("already_registered") { bobAgain.register() }
        val newCard = bobAgain.rotatePrivateKey()
        assertEquals(firstCard.id(), newCard.previousCardId())
        assertNotEquals(firstCard.id(), newCard.id())

        assertEquals(listOf(bobIdentity), alice.updateCachedUsers())
        assertEquals(listOf(bobIdentity), changed.toList())
        val current = alice.findCachedUsers(listOf(bobIdentity)).get(bobIdentity)!!
        assertEquals(newCard, current)

        // Data signed with Bob's previous key verifies only with the time it was made.
        val error = assertTessera<TesseraException.MadeAtRequired>("made_at_required") {
            alice.authDecrypt(oldMessage, current, null)
        }
        assertEquals(firstCard.id(), error.cardId)
        assertArrayEquals("before the rotation".toByteArray(), alice.authDecrypt(oldMessage, current, madeAt))
        assertTessera<TesseraException.SignerKeyReplaced>("signer_key_replaced") {
            alice.authDecrypt(oldMessage, current, Instant.now().plusSeconds(5))
        }
        // Bob's old key can no longer read what is sent to him now.
        val fresh = alice.authEncrypt("after".toByteArray(), alice.findCachedUsers(listOf(bobIdentity)))
        assertArrayEquals("after".toByteArray(), bobAgain.authDecrypt(fresh, alice.ownCard()!!, null))
        assertTessera<TesseraException.NotARecipient>("not_a_recipient") { bob.authDecrypt(fresh, alice.ownCard()!!, null) }
    }

    @Test
    fun `typed exceptions carry the stable code and their fields`(): Unit = runBlocking {
        val alice = registered("alice")
        val missing = listOf(uniqueIdentity("nobody"), uniqueIdentity("nobody"))
        val notFound = assertTessera<TesseraException.UsersNotFound>("users_not_found") {
            alice.findUsers(missing + alice.identity())
        }
        assertEquals(missing.sorted(), notFound.identities)
        assertTrue(notFound.message!!.contains(missing[0]), notFound.message)
        assertTessera<TesseraException.UsersNotFound>("users_not_found") { alice.findCachedUsers(missing) }
        assertTessera<TesseraException.InvalidInput>("invalid_input") { alice.findUsers(listOf("")) }
        assertTessera<TesseraException.PrivateKeyAlreadyExists>("private_key_already_exists") { alice.register() }

        // Not a URL; a server that is not there.
        assertTessera<TesseraException.InvalidInput>("invalid_input") {
            Tessera.initialize(TesseraConfig("ftp://example", inMemoryKeyStore(), server.tokens("x")))
        }
        // A port nobody listens on: bound by the OS, then released.
        val deadPort = java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress()).use { it.localPort }
        val offline = Tessera.initialize(
            TesseraConfig("http://127.0.0.1:$deadPort", inMemoryKeyStore(), server.tokens("olga"), identity = "olga"),
        )
        assertEquals("olga", offline.identity())
        assertTessera<TesseraException.Network>("network") { offline.register() }

        // Whatever a platform implementation throws arrives as a typed error with its text.
        val brokenTokens = object : TokenProvider {
            override suspend fun token(): String = throw IllegalStateException("backend down")
        }
        val tokenError = assertTessera<TesseraException.TokenProvider>("token_provider") {
            Tessera.initialize(TesseraConfig(server.url, inMemoryKeyStore(), brokenTokens))
        }
        assertTrue(tokenError.reason.contains("backend down"), tokenError.reason)
        val brokenStore = object : KeyStore {
            override suspend fun get(name: String): ByteArray? = throw IOException("disk on fire")
            override suspend fun put(name: String, value: ByteArray) = throw PlatformException.Failed("read-only")
            override suspend fun delete(name: String) = Unit
        }
        val storeError = assertTessera<TesseraException.KeyStore>("key_store") {
            client(uniqueIdentity("erin"), brokenStore)
        }
        assertTrue(storeError.reason.contains("disk on fire"), storeError.reason)
        val wrongSubject = object : TokenProvider {
            override suspend fun token(): String = server.token("mallory")
        }
        assertTessera<TesseraException.TokenProvider>("token_provider") {
            Tessera.initialize(TesseraConfig(server.url, inMemoryKeyStore(), wrongSubject, identity = "not-mallory"))
                .register()
        }
    }

    @Test
    fun `streams encrypt and decrypt in pieces with progress and cancellation`(): Unit = runBlocking {
        val alice = registered("alice")
        val bob = registered("bob")
        val toBob = alice.findUsers(listOf(bob.identity()))
        val data = Random(7).nextBytes(1_000_003)
        val reports = Collections.synchronizedList(mutableListOf<Progress>())
        val encrypt = alice.encryptStream(
            toBob,
            StreamOptions(
                progress = object : ProgressListener {
                    override fun onProgress(progress: Progress) {
                        reports.add(progress)
                    }
                },
                totalBytes = data.size.toULong(),
            ),
        )
        val envelope = ByteArrayOutputStream()
        assertEquals(data.size.toLong(), encrypt.pipe(ByteArrayInputStream(data), envelope, pieceBytes = 100_000))
        assertEquals(data.size.toULong(), reports.last().processedBytes)
        assertEquals(data.size.toULong(), reports.last().totalBytes)
        assertTrue(reports.zipWithNext().all { (a, b) -> a.processedBytes < b.processedBytes })
        assertTessera<TesseraException.InvalidState>("invalid_state") { encrypt.update(ByteArray(1)) }

        // The stream's envelope is a message like any other.
        val aliceCard = bob.findUsers(listOf(alice.identity())).get(alice.identity())!!
        assertArrayEquals(data, bob.authDecrypt(envelope.toByteArray(), aliceCard, null))
        val plaintext = ByteArrayOutputStream()
        val signer = bob.decryptStream(aliceCard, null, StreamOptions())
            .pipe(ByteArrayInputStream(envelope.toByteArray()), plaintext, pieceBytes = 7919)
        assertArrayEquals(data, plaintext.toByteArray())
        assertEquals(alice.identity(), signer.signer)
        assertEquals(aliceCard.id(), signer.signerCardId)

        // Truncation is caught when the stream finishes.
        val truncated = envelope.toByteArray().copyOf(envelope.size() - 100)
        assertTessera<TesseraException.DecryptionFailed>("decryption_failed") {
            bob.decryptStream(aliceCard, null, StreamOptions()).pipe(ByteArrayInputStream(truncated), ByteArrayOutputStream())
        }

        // Cancelling from another coroutine stops the stream for good.
        val token = CancellationToken()
        val cancellable = alice.encryptStream(toBob, StreamOptions(cancellation = token))
        cancellable.update(ByteArray(70_000))
        Thread { token.cancel() }.apply { start() }.join()
        assertTrue(token.isCancelled())
        assertTessera<TesseraException.Cancelled>("cancelled") { cancellable.update(ByteArray(10)) }
        assertTessera<TesseraException.Cancelled>("cancelled") { cancellable.finish() }
    }

    @Test
    fun `concurrent calls from many coroutines`(): Unit = runBlocking {
        val alice = registered("alice")
        val bob = registered("bob")
        val toBob = alice.findUsers(listOf(bob.identity()))
        val aliceCard = bob.findUsers(listOf(alice.identity())).get(alice.identity())!!
        val results = (0 until 32).map { i ->
            async(kotlinx.coroutines.Dispatchers.Default) {
                val message = "message $i".toByteArray()
                bob.authDecrypt(alice.authEncrypt(message, toBob), aliceCard, null).decodeToString()
            }
        }.awaitAll()
        assertEquals((0 until 32).map { "message $it" }, results)
    }

    @Test
    fun `groups - create, load, encrypt, decrypt, add, remove, delete`(): Unit = runBlocking {
        val alice = registered("alice")
        val bob = registered("bob")
        val carol = registered("carol")
        val dave = registered("dave")
        val groupId = uniqueIdentity("team")
        val group = alice.createGroup(groupId, alice.findUsers(listOf(bob.identity(), carol.identity())))
        assertEquals(groupId, group.id())
        assertEquals(alice.identity(), group.initiator())
        assertEquals(listOf(alice.identity(), bob.identity(), carol.identity()).sorted(), group.participants().sorted())
        assertEquals(0u, group.epoch())
        assertTessera<TesseraException.GroupAlreadyExists>("group_already_exists") {
            alice.createGroup(groupId, FoundUsers.fromCards(emptyList()))
        }

        val aliceCard = bob.findUsers(listOf(alice.identity())).get(alice.identity())!!
        val bobGroup = bob.loadGroup(groupId, aliceCard)
        val carolGroup = carol.loadGroup(groupId, aliceCard)
        val hello = group.encrypt("hello team".toByteArray())
        assertArrayEquals("hello team".toByteArray(), bobGroup.decrypt(hello, aliceCard, null))
        assertArrayEquals("hello team".toByteArray(), carolGroup.decrypt(hello, aliceCard, null))
        // Known on this device without the network.
        assertEquals(groupId, bob.getGroup(groupId)!!.id())
        assertNull(bob.getGroup(uniqueIdentity("unknown")))

        // Large data through the group's stream encryptor.
        val big = Random(3).nextBytes(200_000)
        val stream = bobGroup.encryptStream()
        val sealed = ByteArrayOutputStream()
        big.asList().chunked(65_000).forEach { sealed.write(stream.update(it.toByteArray())) }
        sealed.write(stream.finish())
        val bobCard = alice.findUsers(listOf(bob.identity())).get(bob.identity())!!
        assertArrayEquals(big, group.decrypt(sealed.toByteArray(), bobCard, null))

        // Only the initiator changes membership.
        assertTessera<TesseraException.NotGroupInitiator>("not_group_initiator") {
            bobGroup.remove(listOf(carol.identity()))
        }
        group.remove(listOf(carol.identity()))
        assertEquals(1u, group.epoch())
        val secret = group.encrypt("without carol".toByteArray())
        assertArrayEquals("without carol".toByteArray(), bobGroup.decrypt(secret, aliceCard, null))
        assertEquals(1u, bobGroup.epoch())
        val lockedOut = assertTessera<TesseraException.GroupEpochUnknown>("group_epoch_unknown") {
            carolGroup.decrypt(secret, aliceCard, null)
        }
        assertEquals(1u, lockedOut.epoch)
        // Carol's client does not learn later epochs and still writes to epoch 0; the
        // others refuse that unless the app's timestamp shows it predates her removal.
        val late = carolGroup.encrypt("still here?".toByteArray())
        val carolCard = bob.findUsers(listOf(carol.identity())).get(carol.identity())!!
        assertTessera<TesseraException.SenderNotParticipant>("sender_not_participant") {
            bobGroup.decrypt(late, carolCard, null)
        }

        // A newcomer with history reads what was sent before.
        group.add(alice.findUsers(listOf(dave.identity())), true)
        val daveGroup = dave.loadGroup(groupId, dave.findUsers(listOf(alice.identity())).get(alice.identity())!!)
        assertArrayEquals("hello team".toByteArray(), daveGroup.decrypt(hello, aliceCard, null))

        assertTessera<TesseraException.NotGroupInitiator>("not_group_initiator") { bob.deleteGroup(groupId) }
        alice.deleteGroup(groupId)
        assertTessera<TesseraException.GroupNotFound>("group_not_found") { bob.loadGroup(groupId, aliceCard) }
    }

    @Test
    fun `unregister revokes the card`(): Unit = runBlocking {
        val alice = registered("alice")
        val bob = registered("bob")
        bob.unregister()
        assertFalse(bob.hasLocalPrivateKey())
        assertTessera<TesseraException.UsersNotFound>("users_not_found") { alice.findUsers(listOf(bob.identity())) }
        assertTessera<TesseraException.NotRegistered>("not_registered") { bob.rotatePrivateKey() }
    }
}
