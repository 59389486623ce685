package dev.tessera.bench

import dev.tessera.CancellationToken
import dev.tessera.Card
import dev.tessera.FoundUsers
import dev.tessera.KeyPair
import dev.tessera.Tessera
import dev.tessera.TesseraConfig
import dev.tessera.TokenProvider
import dev.tessera.PlatformException
import dev.tessera.decryptMessage
import dev.tessera.encryptMessage
import dev.tessera.inMemoryKeyStore
import java.time.Instant
import kotlinx.coroutines.runBlocking

/**
 * The Kotlin half of scripts/bench-kotlin (a plain timing harness, not a test): per-call
 * time of encrypting and decrypting 1 KiB through the generated bindings, next to the same
 * calls made directly in Rust (ffi/examples/overhead.rs). Same rounds, same warm-up.
 */
private const val ROUNDS = 5
private const val CALLS = 5_000

private fun measure(name: String, call: () -> Unit) {
    // Long warm-up: the JIT compiles the generated converters first.
    repeat(2 * CALLS) { call() }
    val means = (0 until ROUNDS).map {
        val start = System.nanoTime()
        repeat(CALLS) { call() }
        (System.nanoTime() - start) / 1e3 / CALLS
    }.sorted()
    println("kotlin %-28s %8.2f us/call".format(name, means[ROUNDS / 2]))
}

fun main() = runBlocking {
    val keys = KeyPair.fromRootSecret(ByteArray(32) { 0x44 })
    val card = Card.create(keys, "bench", Instant.now(), null)
    val data = ByteArray(1024) { 0x5a }

    // The boundary alone: a call that does nothing but cross it and return a Boolean.
    val token = CancellationToken()
    measure("no-op call (isCancelled)") { token.isCancelled() }

    val envelope = encryptMessage(keys, listOf(card), data)
    measure("encryptMessage 1 KiB") { encryptMessage(keys, listOf(card), data) }
    measure("decryptMessage 1 KiB") { decryptMessage(keys, envelope, listOf(card), null) }

    // An offline client: the key and card are put into the key store by hand, with the
    // names of docs/CLIENT.md "Key store entries"; the token provider is never asked.
    val store = inMemoryKeyStore()
    store.put("tessera/bench/root-secret", ByteArray(32) { 0x44 })
    store.put("tessera/bench/card", card.toText().toByteArray())
    val noTokens = object : TokenProvider {
        override suspend fun token(): String = throw PlatformException.Failed("offline benchmark")
    }
    val tessera = Tessera.initialize(TesseraConfig("http://127.0.0.1:9", store, noTokens, identity = "bench"))
    val users = FoundUsers.fromCards(listOf(card))
    val sealed = tessera.authEncrypt(data, users)
    measure("authEncrypt 1 KiB (suspend)") { runBlocking { tessera.authEncrypt(data, users) } }
    measure("authDecrypt 1 KiB (suspend)") { runBlocking { tessera.authDecrypt(sealed, card, null) } }
}
