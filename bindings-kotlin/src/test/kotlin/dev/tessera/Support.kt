package dev.tessera

import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.Paths
import java.util.UUID
import java.util.concurrent.TimeUnit
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import org.json.JSONObject
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.function.Executable

/** The repository root (set by the pom for surefire, or by scripts). */
val repositoryRoot: Path = Paths.get(System.getenv("TESSERA_ROOT") ?: "../").toAbsolutePath().normalize()

/** An environment variable the test run must set (scripts/build-kotlin --test sets them all). */
fun requiredEnv(name: String): String =
    System.getenv(name) ?: error("$name is not set: run the tests through scripts/build-kotlin --test")

fun String.hexToBytes(): ByteArray {
    require(length % 2 == 0) { "odd hex length" }
    return ByteArray(length / 2) { i -> substring(2 * i, 2 * i + 2).toInt(16).toByte() }
}

fun ByteArray.toHex(): String = joinToString("") { "%02x".format(it) }

/** A test-vector file of test-vectors/. */
fun vectors(name: String): JSONObject = JSONObject(Files.readString(repositoryRoot.resolve("test-vectors").resolve(name)))

/** A unique identity per test, so tests never see each other's users. */
fun uniqueIdentity(prefix: String): String = "$prefix-${UUID.randomUUID().toString().take(12)}"

/** Asserts that [block] throws the client error [T] and returns it. */
inline fun <reified T : TesseraException> assertTessera(code: String, noinline block: suspend () -> Unit): T {
    val error = assertThrows(T::class.java, Executable { kotlinx.coroutines.runBlocking { block() } })
    assertEquals(code, error.code(), "code of $error")
    return error
}

/**
 * A real tessera-server on 127.0.0.1 with an OS-assigned port and a temporary data
 * directory (SQLite), started from the binary in TESSERA_SERVER_BIN. Tokens are minted
 * with `tessera-server token`, as a developer would. [close] stops the server (SIGTERM)
 * and removes the directory.
 */
class TestServer : AutoCloseable {
    private val binary = requiredEnv("TESSERA_SERVER_BIN")
    val dataDir: Path = Files.createTempDirectory("tessera-kotlin-server-")
    private val process: Process
    val url: String

    init {
        run("init", "--data-dir", dataDir.resolve("data").toString())
        process = ProcessBuilder(binary, "serve", "--data-dir", dataDir.resolve("data").toString(), "--listen", "127.0.0.1:0")
            .redirectError(dataDir.resolve("server.log").toFile())
            .apply { environment()["TESSERA_LOG"] = "warn" }
            .start()
        val line = process.inputStream.bufferedReader().readLine()
            ?: error("tessera-server exited: ${Files.readString(dataDir.resolve("server.log"))}")
        url = Regex("listening on (http://\\S+)").find(line)?.groupValues?.get(1) ?: error("unexpected first line: $line")
    }

    private fun run(vararg args: String): String {
        val child = ProcessBuilder(binary, *args).redirectErrorStream(true).start()
        val output = child.inputStream.bufferedReader().readText()
        check(child.waitFor(60, TimeUnit.SECONDS) && child.exitValue() == 0) { "tessera-server ${args[0]} failed: $output" }
        return output
    }

    /** A development token for [identity] (`tessera-server token`). */
    fun token(identity: String): String =
        run("token", "--identity", identity, "--data-dir", dataDir.resolve("data").toString()).trim().lines().last()

    /** A token provider that mints tokens for [identity] on demand. */
    fun tokens(identity: String): TokenProvider = object : TokenProvider {
        override suspend fun token(): String = withContext(Dispatchers.IO) { this@TestServer.token(identity) }
    }

    override fun close() {
        process.destroy()
        if (!process.waitFor(30, TimeUnit.SECONDS)) process.destroyForcibly()
        dataDir.toFile().deleteRecursively()
    }
}
