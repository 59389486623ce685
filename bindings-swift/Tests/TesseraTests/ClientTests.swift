// Mirrors bindings-kotlin/src/test/kotlin/dev/tessera/ClientTest.kt. Not compiled here.

import Foundation
import XCTest
@testable import Tessera

final class ClientTests: XCTestCase {
    static var server: TestServer!

    override class func setUp() {
        super.setUp()
        server = try? TestServer()
    }

    override class func tearDown() {
        server?.stop()
        super.tearDown()
    }

    private var server: TestServer {
        get throws {
            guard let server = Self.server else { throw NSError(domain: "ClientTests", code: 1, userInfo: [NSLocalizedDescriptionKey: "tessera-server did not start (TESSERA_SERVER_BIN)"]) }
            return server
        }
    }

    private func client(_ identity: String, keyStore: KeyStore = inMemoryKeyStore(), listener: KeyChangedListener? = nil) async throws -> Tessera {
        try await Tessera.initialize(config: TesseraConfig(
            serverUrl: try server.url, keyStore: keyStore, tokenProvider: try server.tokens(identity), keyChangedListener: listener
        ))
    }

    private func registered(_ prefix: String, keyStore: KeyStore = inMemoryKeyStore()) async throws -> Tessera {
        let tessera = try await client(uniqueIdentity(prefix), keyStore: keyStore)
        _ = try await tessera.register()
        return tessera
    }

    func testRegisterFindEncryptDecrypt() async throws {
        let alice = try await registered("alice")
        let bob = try await registered("bob")
        XCTAssertTrue(alice.hasLocalPrivateKey())
        let found = try await alice.findUsers(identities: [bob.identity()])
        XCTAssertEqual(found.identities(), [bob.identity()])
        let message = Data("hello from Swift".utf8)
        let ciphertext = try await alice.authEncrypt(data: message, recipients: found)
        let aliceCard = try await bob.findUsers(identities: [alice.identity()]).get(identity: alice.identity())!
        let plaintext = try await bob.authDecrypt(data: ciphertext, sender: aliceCard, madeAt: nil)
        XCTAssertEqual(plaintext, message)
        let own = try await alice.authDecrypt(data: ciphertext, sender: alice.ownCard()!, madeAt: nil)
        XCTAssertEqual(own, message)
        let left = try await bob.safetyNumber(other: aliceCard)
        let right = try await alice.safetyNumber(other: bob.ownCard()!)
        XCTAssertEqual(left, right)

        var tampered = ciphertext
        tampered[tampered.count - 1] ^= 1
        await assertTessera("decryption_failed") { _ = try await bob.authDecrypt(data: tampered, sender: aliceCard, madeAt: nil) }
        await assertTessera("wrong_sender") { _ = try await bob.authDecrypt(data: ciphertext, sender: bob.ownCard()!, madeAt: nil) }
        let carol = try await registered("carol")
        await assertTessera("not_a_recipient") { _ = try await carol.authDecrypt(data: ciphertext, sender: aliceCard, madeAt: nil) }
    }

    func testBackupOnOneDeviceRestoreOnAnotherKeyStore() async throws {
        let identity = uniqueIdentity("dana")
        let service = "dev.tessera.tests.\(UUID().uuidString)"
        let first = try await client(identity, keyStore: KeychainKeyStore(service: service + ".1"))
        _ = try await first.register()
        try await first.backupPrivateKey(password: "correct horse")
        await assertTessera("backup_already_exists") { try await first.backupPrivateKey(password: "again") }
        let note = try await first.authEncrypt(data: Data("for later".utf8), recipients: FoundUsers.fromCards(cards: []))

        let second = try await client(identity, keyStore: KeychainKeyStore(service: service + ".2"))
        XCTAssertFalse(second.hasLocalPrivateKey())
        await assertTessera("already_registered") { _ = try await second.register() }
        await assertTessera("wrong_password") { try await second.restorePrivateKey(password: "wrong horse") }
        try await second.restorePrivateKey(password: "correct horse")
        let restored = try await second.authDecrypt(data: note, sender: first.ownCard()!, madeAt: nil)
        XCTAssertEqual(restored, Data("for later".utf8))

        try await second.changePassword(oldPassword: "correct horse", newPassword: "battery staple")
        try await second.cleanup()
        await assertTessera("wrong_password") { try await second.restorePrivateKey(password: "correct horse") }
        try await second.restorePrivateKey(password: "battery staple")
        try await second.resetPrivateKeyBackup()
        try await second.cleanup()
        try await first.cleanup()
        await assertTessera("no_backup") { try await second.restorePrivateKey(password: "battery staple") }
    }

    final class Changes: KeyChangedListener, @unchecked Sendable {
        var identities: [String] = []
        func keyChanged(identity: String) throws { identities.append(identity) }
    }

    func testRotationAfterALostKey() async throws {
        let changes = Changes()
        let alice = try await client(uniqueIdentity("alice"), listener: changes)
        _ = try await alice.register()
        let bobIdentity = uniqueIdentity("bob")
        let bob = try await client(bobIdentity)
        let firstCard = try await bob.register()
        _ = try await alice.findUsers(identities: [bobIdentity])
        let old = try await bob.authEncrypt(data: Data("before".utf8), recipients: FoundUsers.fromCards(cards: [alice.ownCard()!]))
        let madeAt = Date()
        try await Task.sleep(nanoseconds: 1_100_000_000) // card times are whole seconds

        let bobAgain = try await client(bobIdentity)
        let newCard = try await bobAgain.rotatePrivateKey()
        XCTAssertEqual(newCard.previousCardId(), firstCard.id())
        let changed = try await alice.updateCachedUsers()
        XCTAssertEqual(changed, [bobIdentity])
        XCTAssertEqual(changes.identities, [bobIdentity])
        let current = try await alice.findCachedUsers(identities: [bobIdentity]).get(identity: bobIdentity)!
        XCTAssertEqual(current, newCard)
        let error = await assertTessera("made_at_required") { _ = try await alice.authDecrypt(data: old, sender: current, madeAt: nil) }
        if case .MadeAtRequired(_, let cardId) = error { XCTAssertEqual(cardId, firstCard.id()) } else { XCTFail("\(String(describing: error))") }
        let plaintext = try await alice.authDecrypt(data: old, sender: current, madeAt: madeAt)
        XCTAssertEqual(plaintext, Data("before".utf8))
    }

    func testTypedErrors() async throws {
        let alice = try await registered("alice")
        let missing = [uniqueIdentity("nobody"), uniqueIdentity("nobody")].sorted()
        let error = await assertTessera("users_not_found") { _ = try await alice.findUsers(identities: missing + [alice.identity()]) }
        if case .UsersNotFound(_, let identities) = error { XCTAssertEqual(identities, missing) } else { XCTFail("\(String(describing: error))") }
        await assertTessera("invalid_input") { _ = try await alice.findUsers(identities: [""]) }
        await assertTessera("private_key_already_exists") { _ = try await alice.register() }
        let offline = try await Tessera.initialize(config: TesseraConfig(serverUrl: "http://127.0.0.1:9", keyStore: inMemoryKeyStore(), tokenProvider: try server.tokens("olga"), identity: "olga"))
        await assertTessera("network") { _ = try await offline.register() }

        final class Broken: TokenProvider, @unchecked Sendable {
            func token() async throws -> String { throw PlatformError.Failed(reason: "backend down") }
        }
        let tokenError = await assertTessera("token_provider") {
            _ = try await Tessera.initialize(config: TesseraConfig(serverUrl: try self.server.url, keyStore: inMemoryKeyStore(), tokenProvider: Broken()))
        }
        XCTAssertTrue(tokenError?.reason().contains("backend down") ?? false)
    }

    final class Reports: ProgressListener, @unchecked Sendable {
        var seen: [Progress] = []
        func onProgress(progress: Progress) throws { seen.append(progress) }
    }

    func testStreamsWithProgressAndCancellation() async throws {
        let alice = try await registered("alice")
        let bob = try await registered("bob")
        let toBob = try await alice.findUsers(identities: [bob.identity()])
        let data = Data((0..<1_000_003).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let reports = Reports()
        let encrypt = try await alice.encryptStream(recipients: toBob, options: StreamOptions(progress: reports, totalBytes: UInt64(data.count)))
        var envelope = Data()
        var offset = 0
        while offset < data.count {
            let end = min(offset + 100_000, data.count)
            envelope.append(try encrypt.update(data: data.subdata(in: offset..<end)))
            offset = end
        }
        envelope.append(try encrypt.finish())
        XCTAssertEqual(reports.seen.last?.processedBytes, UInt64(data.count))

        let aliceCard = try await bob.findUsers(identities: [alice.identity()]).get(identity: alice.identity())!
        let decrypt = try await bob.decryptStream(sender: aliceCard, madeAt: nil, options: StreamOptions())
        var plaintext = Data()
        offset = 0
        while offset < envelope.count {
            let end = min(offset + 7919, envelope.count)
            plaintext.append(try decrypt.update(data: envelope.subdata(in: offset..<end)))
            offset = end
        }
        let last = try decrypt.finish()
        plaintext.append(last.plaintext)
        XCTAssertEqual(plaintext, data)
        XCTAssertEqual(last.signer, alice.identity())

        let token = CancellationToken()
        let cancellable = try await alice.encryptStream(recipients: toBob, options: StreamOptions(cancellation: token))
        _ = try cancellable.update(data: Data(count: 70_000))
        token.cancel()
        await assertTessera("cancelled") { _ = try cancellable.update(data: Data(count: 10)) }
    }

    func testGroups() async throws {
        let alice = try await registered("alice")
        let bob = try await registered("bob")
        let carol = try await registered("carol")
        let groupId = uniqueIdentity("team")
        let group = try await alice.createGroup(groupId: groupId, participants: alice.findUsers(identities: [bob.identity(), carol.identity()]))
        XCTAssertEqual(try group.epoch(), 0)
        await assertTessera("group_already_exists") { _ = try await alice.createGroup(groupId: groupId, participants: FoundUsers.fromCards(cards: [])) }
        let aliceCard = try await bob.findUsers(identities: [alice.identity()]).get(identity: alice.identity())!
        let bobGroup = try await bob.loadGroup(groupId: groupId, initiator: aliceCard)
        let carolGroup = try await carol.loadGroup(groupId: groupId, initiator: aliceCard)
        let hello = try await group.encrypt(data: Data("hello team".utf8))
        let read = try await bobGroup.decrypt(data: hello, sender: aliceCard, madeAt: nil)
        XCTAssertEqual(read, Data("hello team".utf8))
        await assertTessera("not_group_initiator") { try await bobGroup.remove(identities: [carol.identity()]) }
        try await group.remove(identities: [carol.identity()])
        let secret = try await group.encrypt(data: Data("without carol".utf8))
        await assertTessera("group_epoch_unknown") { _ = try await carolGroup.decrypt(data: secret, sender: aliceCard, madeAt: nil) }
        try await alice.deleteGroup(groupId: groupId)
        await assertTessera("group_not_found") { _ = try await bob.loadGroup(groupId: groupId, initiator: aliceCard) }
    }
}
