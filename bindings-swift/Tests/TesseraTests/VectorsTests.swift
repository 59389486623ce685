// Mirrors bindings-kotlin/src/test/kotlin/dev/tessera/VectorsTest.kt. Not compiled here.

import Foundation
import XCTest
@testable import Tessera

final class VectorsTests: XCTestCase {
    private func cases(_ file: String) throws -> [[String: Any]] {
        try vectors(file)["cases"] as! [[String: Any]]
    }

    private func keyPair(_ hex: String) throws -> KeyPair { try KeyPair.fromRootSecret(rootSecret: Data(hex: hex)) }

    private func cards(_ list: Any?) throws -> [Card] {
        try (list as! [[String: Any]]).map { try Card.fromParts(snapshot: Data(hex: $0["snapshot"] as! String), signature: Data(hex: $0["signature"] as! String)) }
    }

    private func date(_ value: Any?) -> Date? {
        (value as? NSNumber).map { Date(timeIntervalSince1970: $0.doubleValue) }
    }

    private func expectKind(_ kind: String, _ name: String, _ body: () throws -> Void) {
        XCTAssertThrowsError(try body(), name) { error in
            XCTAssertEqual((error as? CryptoError)?.kind(), kind, "\(name): \(error)")
        }
    }

    func testKeys() throws {
        for c in try cases("keys.json") {
            let keys = try keyPair(c["root_secret"] as! String)
            XCTAssertEqual(keys.signingPublicKey().hex, c["ed25519_public_key"] as? String)
            XCTAssertEqual(keys.encryptionPublicKey().hex, c["x25519_public_key"] as? String)
            XCTAssertEqual(keys.signingKeyId().hex, c["signing_key_id"] as? String)
            XCTAssertEqual(keys.encryptionKeyId().hex, c["encryption_key_id"] as? String)
        }
    }

    func testCards() throws {
        for c in try cases("cards.json") {
            let name = c["name"] as! String
            let parse = { try Card.fromParts(snapshot: Data(hex: c["snapshot"] as! String), signature: Data(hex: c["signature"] as! String)) }
            guard c["valid"] as! Bool else {
                expectKind(c["error"] as! String, name) { _ = try parse() }
                continue
            }
            let card = try parse()
            XCTAssertEqual(card.id(), c["card_id"] as? String, name)
            XCTAssertEqual(card.toText(), c["text"] as? String, name)
            let remade = try Card.create(keys: try keyPair(c["root_secret"] as! String), identity: c["identity"] as! String, createdAt: date(c["created_at"])!, previousCardId: card.previousCardId())
            XCTAssertEqual(remade.signature().hex, c["signature"] as? String, name)
        }
    }

    func testEnvelopes() throws {
        for c in try cases("envelopes.json") {
            let name = c["name"] as! String
            let run = {
                try decryptMessage(recipient: try self.keyPair(c["decrypt_with_root_secret"] as! String), envelope: Data(hex: c["envelope"] as! String), senderChain: try self.cards(c["sender_cards"]), madeAt: self.date(c["made_at"]))
            }
            guard c["valid"] as! Bool else {
                expectKind(c["error"] as! String, name) { _ = try run() }
                continue
            }
            let result = try run()
            XCTAssertEqual(result.plaintext.hex, c["plaintext"] as? String, name)
            XCTAssertEqual(result.signerCardId, c["signer_card_id"] as? String, name)
        }
    }

    func testBackups() throws {
        for c in try cases("backups.json") {
            let name = c["name"] as! String
            if let password = c["derive_passwords"] as? String {
                let derive = {
                    try derivePasswords(password: password, appId: c["app_id"] as! String, identity: c["identity"] as! String)
                }
                guard c["valid"] as! Bool else {
                    expectKind(c["error"] as! String, name) { _ = try derive() }
                    continue
                }
                let derived = try derive()
                XCTAssertEqual(derived.loginPassword(), c["login_password"] as? String, name)
                XCTAssertEqual(derived.backupPassword(), c["backup_password"] as? String, name)
                continue
            }
            let open = { try openBackup(blob: Data(hex: c["blob"] as! String), password: c["password"] as! String) }
            guard c["valid"] as! Bool else {
                expectKind(c["error"] as! String, name) { _ = try open() }
                continue
            }
            XCTAssertEqual(try open().signingPublicKey(), try keyPair(c["root_secret"] as! String).signingPublicKey(), name)
        }
    }

    func testSafetyNumbers() throws {
        let when = Date(timeIntervalSince1970: 1_767_225_600)
        for c in try cases("safety-numbers.json") {
            let a = try Card.create(keys: try keyPair(c["root_secret_a"] as! String), identity: c["identity_a"] as! String, createdAt: when, previousCardId: nil)
            let b = try Card.create(keys: try keyPair(c["root_secret_b"] as! String), identity: c["identity_b"] as! String, createdAt: when, previousCardId: nil)
            XCTAssertEqual(safetyNumber(a: a, b: b), c["safety_number"] as? String)
            XCTAssertEqual(safetyNumber(a: b, b: a), c["safety_number"] as? String)
        }
    }
}
