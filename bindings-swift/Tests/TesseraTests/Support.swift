// NOT COMPILED OR RUN ON THIS PROJECT'S CI (no Swift toolchain there): these XCTest suites
// mirror bindings-kotlin/src/test and run on macOS with `swift test` after
// scripts/build-swift (see docs/SWIFT.md for the environment they need).

import Foundation
import XCTest
@testable import Tessera

/// An environment variable the run must set (docs/SWIFT.md "Tests").
func requiredEnv(_ name: String) throws -> String {
    guard let value = ProcessInfo.processInfo.environment[name] else {
        // A failure, not a skip: the suites need the real server and the interop files.
        throw NSError(domain: "TesseraTests", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(name) must be set, see docs/SWIFT.md"])
    }
    return value
}

/// The repository root: TESSERA_ROOT, or three levels above this file.
var repositoryRoot: URL {
    if let root = ProcessInfo.processInfo.environment["TESSERA_ROOT"] {
        return URL(fileURLWithPath: root)
    }
    return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
}

extension Data {
    init(hex: String) {
        var bytes = [UInt8]()
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        self.init(bytes)
    }

    var hex: String { map { String(format: "%02x", $0) }.joined() }
}

func vectors(_ name: String) throws -> [String: Any] {
    let url = repositoryRoot.appendingPathComponent("test-vectors").appendingPathComponent(name)
    return try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
}

func uniqueIdentity(_ prefix: String) -> String {
    "\(prefix)-\(UUID().uuidString.prefix(12).lowercased())"
}

/// Asserts that `body` throws the client error with `code` and returns it.
@discardableResult
func assertTessera(_ code: String, _ body: () async throws -> Void, file: StaticString = #filePath, line: UInt = #line) async -> TesseraError? {
    do {
        try await body()
        XCTFail("expected TesseraError \(code)", file: file, line: line)
    } catch let error as TesseraError {
        XCTAssertEqual(error.code(), code, "\(error)", file: file, line: line)
        return error
    } catch {
        XCTFail("expected TesseraError \(code), got \(error)", file: file, line: line)
    }
    return nil
}

/// A real tessera-server on 127.0.0.1 with an OS-assigned port and a temporary data
/// directory, from TESSERA_SERVER_BIN; tokens from `tessera-server token`.
final class TestServer: @unchecked Sendable {
    let binary: String
    let dataDir: URL
    let process = Process()
    private(set) var url = ""

    init() throws {
        binary = try requiredEnv("TESSERA_SERVER_BIN")
        dataDir = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-swift-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dataDir, withIntermediateDirectories: true)
        _ = try run(["init", "--data-dir", dataDir.appendingPathComponent("data").path])
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve", "--data-dir", dataDir.appendingPathComponent("data").path, "--listen", "127.0.0.1:0"]
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        while let byte = try output.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data("\n".utf8) {
            line.append(byte)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let range = text.range(of: "http://") else { throw NSError(domain: "TestServer", code: 1, userInfo: [NSLocalizedDescriptionKey: text]) }
        url = String(text[range.lowerBound...]).trimmingCharacters(in: .whitespaces)
    }

    private func run(_ arguments: [String]) throws -> String {
        let child = Process()
        let output = Pipe()
        child.executableURL = URL(fileURLWithPath: binary)
        child.arguments = arguments
        child.standardOutput = output
        child.standardError = output
        try child.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        child.waitUntilExit()
        guard child.terminationStatus == 0 else {
            throw NSError(domain: "TestServer", code: Int(child.terminationStatus), userInfo: [NSLocalizedDescriptionKey: String(decoding: data, as: UTF8.self)])
        }
        return String(decoding: data, as: UTF8.self)
    }

    func token(_ identity: String) throws -> String {
        let output = try run(["token", "--identity", identity, "--data-dir", dataDir.appendingPathComponent("data").path])
        return output.split(separator: "\n").last.map(String.init) ?? ""
    }

    func tokens(_ identity: String) -> TokenProvider { ServerTokens(server: self, identity: identity) }

    func stop() {
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: dataDir)
    }
}

final class ServerTokens: TokenProvider, @unchecked Sendable {
    let server: TestServer
    let identity: String
    init(server: TestServer, identity: String) {
        self.server = server
        self.identity = identity
    }

    func token() async throws -> String {
        do {
            return try server.token(identity)
        } catch {
            throw PlatformError.Failed(reason: "\(error)")
        }
    }
}
