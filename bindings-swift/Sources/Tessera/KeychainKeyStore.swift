// NOT COMPILED OR TESTED ON THIS PROJECT'S CI: the build machines have no Swift toolchain.
// scripts/build-swift compiles it on macOS; see docs/SWIFT.md.

import Foundation
import Security

/// A `KeyStore` in the Keychain (Security framework): every entry is a generic-password
/// item of `service`, its account being the entry name.
///
/// - Items are `kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly` by default: readable by
///   background work after the first unlock, never synced to iCloud and never restored
///   onto another device (use Tessera's password backup for that).
/// - `accessGroup` shares the entries with app extensions of the same team.
/// - `put` updates the item in place (or adds it), which the Keychain does atomically.
public final class KeychainKeyStore: KeyStore, @unchecked Sendable {
    private let service: String
    private let accessGroup: String?
    private let accessible: CFString

    public init(
        service: String = "dev.tessera.key-store",
        accessGroup: String? = nil,
        accessible: CFString = kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly
    ) {
        self.service = service
        self.accessGroup = accessGroup
        self.accessible = accessible
    }

    private func query(_ name: String) -> [String: Any] {
        var query: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: name,
            kSecUseDataProtectionKeychain as String: true,
        ]
        if let accessGroup {
            query[kSecAttrAccessGroup as String] = accessGroup
        }
        return query
    }

    private static func failure(_ what: String, _ status: OSStatus) -> PlatformError {
        let text = SecCopyErrorMessageString(status, nil) as String? ?? "OSStatus \(status)"
        return PlatformError.Failed(reason: "KeychainKeyStore could not \(what): \(text)")
    }

    public func get(name: String) async throws -> Data? {
        var request = query(name)
        request[kSecReturnData as String] = true
        request[kSecMatchLimit as String] = kSecMatchLimitOne
        var result: CFTypeRef?
        let status = SecItemCopyMatching(request as CFDictionary, &result)
        switch status {
        case errSecSuccess:
            guard let data = result as? Data else {
                throw PlatformError.Failed(reason: "KeychainKeyStore read an item without data")
            }
            return data
        case errSecItemNotFound:
            return nil
        default:
            throw Self.failure("read an entry", status)
        }
    }

    public func put(name: String, value: Data) async throws {
        let update: [String: Any] = [
            kSecValueData as String: value,
            kSecAttrAccessible as String: accessible,
        ]
        let status = SecItemUpdate(query(name) as CFDictionary, update as CFDictionary)
        switch status {
        case errSecSuccess:
            return
        case errSecItemNotFound:
            var add = query(name)
            add.merge(update) { _, new in new }
            let added = SecItemAdd(add as CFDictionary, nil)
            guard added == errSecSuccess else { throw Self.failure("add an entry", added) }
        default:
            throw Self.failure("update an entry", status)
        }
    }

    public func delete(name: String) async throws {
        let status = SecItemDelete(query(name) as CFDictionary)
        guard status == errSecSuccess || status == errSecItemNotFound else {
            throw Self.failure("delete an entry", status)
        }
    }
}
