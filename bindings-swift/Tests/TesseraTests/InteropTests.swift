// Mirrors bindings-kotlin/src/test/kotlin/dev/tessera/InteropTest.kt. Not compiled here.
// Needs TESSERA_INTEROP_DIR with from-rust.json (`tessera-interop write swift DIR`); writes
// from-swift.json for `tessera-interop read swift DIR`.

import Foundation
import XCTest
@testable import Tessera

final class InteropTests: XCTestCase {
    private func fixed(_ seed: UInt8) throws -> KeyPair { try KeyPair.fromRootSecret(rootSecret: Data(repeating: seed, count: 32)) }

    func testMessagesFromRustDecryptInSwift() throws {
        let dir = URL(fileURLWithPath: try requiredEnv("TESSERA_INTEROP_DIR"))
        let file = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("from-rust.json"))) as! [String: Any]
        let sender = try Card.fromText(text: file["sender_card"] as! String)
        XCTAssertEqual(sender.identity(), "rust-side")
        let messages = file["messages"] as! [[String: String]]
        XCTAssertEqual(messages.count, 3)
        for message in messages {
            let result = try decryptMessage(recipient: try fixed(0x33), envelope: Data(hex: message["envelope"]!), senderChain: [sender], madeAt: nil)
            XCTAssertEqual(result.plaintext.hex, message["plaintext"])
            XCTAssertEqual(result.signer, "rust-side")
        }
    }

    func testMessagesFromSwiftAreWrittenForRust() throws {
        let dir = URL(fileURLWithPath: try requiredEnv("TESSERA_INTEROP_DIR"))
        let when = Date(timeIntervalSince1970: 1_767_225_600)
        let me = try Card.create(keys: try fixed(0x33), identity: "swift-side", createdAt: when, previousCardId: nil)
        let rust = try Card.create(keys: try fixed(0x11), identity: "rust-side", createdAt: when, previousCardId: nil)
        let long = Data((0..<300_001).map { UInt8(($0 * 7) % 256) })
        let messages = try [Data(), Data("hello from Swift".utf8), long].map { plaintext in
            ["envelope": try encryptMessage(sender: try fixed(0x33), recipients: [rust], plaintext: plaintext).hex, "plaintext": plaintext.hex]
        }
        let json = try JSONSerialization.data(withJSONObject: ["sender_card": me.toText(), "messages": messages])
        try json.write(to: dir.appendingPathComponent("from-swift.json"))
    }
}
