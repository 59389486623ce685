// The key store contract (docs/CLIENT.md "KeyStore") for KeychainKeyStore, as
// FileKeyStoreTest.kt checks it for FileKeyStore. Not compiled here.

import Foundation
import XCTest
@testable import Tessera

final class KeychainKeyStoreTests: XCTestCase {
    func testGetPutReplaceDelete() async throws {
        let store = KeychainKeyStore(service: "dev.tessera.tests.\(UUID().uuidString)")
        let name = "tessera/alice@example.com/cards/b%2Fob"
        let missing = try await store.get(name: name)
        XCTAssertNil(missing)
        try await store.delete(name: name)
        try await store.put(name: name, value: Data([1, 2, 3]))
        let first = try await store.get(name: name)
        XCTAssertEqual(first, Data([1, 2, 3]))
        try await store.put(name: name, value: Data([4]))
        let replaced = try await store.get(name: name)
        XCTAssertEqual(replaced, Data([4]))
        try await store.delete(name: name)
        let gone = try await store.get(name: name)
        XCTAssertNil(gone)
    }
}
