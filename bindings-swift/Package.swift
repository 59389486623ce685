// swift-tools-version:5.9
//
// Tessera for Apple platforms: the UniFFI-generated Swift bindings of the tessera-ffi
// adapter over the Rust core, shipped as an XCFramework (iOS device, iOS simulator, macOS).
//
// scripts/build-swift builds TesseraFFI.xcframework and writes the generated
// Sources/Tessera/Generated/Tessera.swift on macOS (neither is committed). On Linux, where
// there is no Swift toolchain, it only generates the bindings and checks that the header,
// the module map and the module names agree with this file (scripts/test runs that check).
//
// Names that must agree (uniffi.toml, checked by scripts/build-swift):
//   - the binary target `TesseraFFI` = the C module of the generated header
//     (`ffi_module_name`), declared by the XCFramework's module.modulemap;
//   - the library target and product `Tessera` = the Swift module (`module_name`).
import PackageDescription

let package = Package(
    name: "Tessera",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [
        .library(name: "Tessera", targets: ["Tessera"]),
    ],
    targets: [
        .binaryTarget(name: "TesseraFFI", path: "TesseraFFI.xcframework"),
        .target(
            name: "Tessera",
            dependencies: ["TesseraFFI"],
            path: "Sources/Tessera",
            linkerSettings: [.linkedFramework("Security")]
        ),
        .testTarget(
            name: "TesseraTests",
            dependencies: ["Tessera"],
            path: "Tests/TesseraTests"
        ),
    ]
)
