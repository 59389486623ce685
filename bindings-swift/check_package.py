"""Checks, without a Swift toolchain, that the generated Swift bindings fit Package.swift.

Run by scripts/build-swift (and so by scripts/test) after generating the bindings:
    python3 check_package.py BINDINGS_SWIFT_DIR GENERATED_DIR LIBRARY

Checks:
1. Package.swift declares the binary target named after the C module of the generated
   header (uniffi.toml `ffi_module_name`), at the XCFramework path scripts/build-swift
   writes, and a library target and product named after the Swift module (`module_name`),
   depending on the binary target;
2. the generated module map declares that C module and names the generated header;
3. the generated Swift file imports that C module;
4. every C function the Swift file calls is declared in the header, and every function the
   header declares is exported by the native library (so the XCFramework links);
5. the hand-written Swift implementations of generated protocols (KeychainKeyStore) declare
   every method of the protocol with the same signature.
Exits non-zero with a list of every mismatch.
"""

import re
import subprocess
import sys
from pathlib import Path

package_dir, generated_dir, library = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
errors = []


def check(condition, message):
    if not condition:
        errors.append(message)


package = (package_dir / "Package.swift").read_text()
swift_files = list(generated_dir.glob("*.swift"))
headers = list(generated_dir.glob("*.h"))
modulemaps = list(generated_dir.glob("*.modulemap"))
check(len(swift_files) == 1 and len(headers) == 1 and len(modulemaps) == 1,
      f"expected one .swift, one .h and one .modulemap in {generated_dir}")
if errors:
    sys.exit("\n".join(errors))
swift, header, modulemap = swift_files[0], headers[0], modulemaps[0]
swift_text, header_text, modulemap_text = swift.read_text(), header.read_text(), modulemap.read_text()

# 1. Package.swift
swift_module = swift.stem
binary = re.search(r'\.binaryTarget\(\s*name:\s*"([^"]+)",\s*path:\s*"([^"]+)"', package)
check(binary is not None, "Package.swift has no .binaryTarget(name:path:)")
module_decl = re.search(r"module\s+(\w+)\s*\{", modulemap_text)
check(module_decl is not None, f"{modulemap.name} declares no module")
if binary and module_decl:
    c_module = module_decl.group(1)
    check(binary.group(1) == c_module,
          f"binary target '{binary.group(1)}' != C module '{c_module}' of {modulemap.name}")
    check(binary.group(2) == f"{c_module}.xcframework",
          f"binary target path '{binary.group(2)}' != '{c_module}.xcframework' (scripts/build-swift's output)")
    target = re.search(r'\.target\(\s*name:\s*"' + re.escape(swift_module) + r'",\s*dependencies:\s*\[([^\]]*)\]', package)
    check(target is not None, f"Package.swift has no .target(name: \"{swift_module}\", dependencies: …) for the Swift module")
    if target:
        check(f'"{c_module}"' in target.group(1), f"target '{swift_module}' does not depend on '{c_module}'")
    check(re.search(r'\.library\(\s*name:\s*"' + re.escape(swift_module) + r'",\s*targets:\s*\[\s*"' + re.escape(swift_module) + r'"', package) is not None,
          f"Package.swift has no .library product '{swift_module}' of target '{swift_module}'")
    # 2. module map names the header; 3. the Swift file imports the C module.
    check(f'header "{header.name}"' in modulemap_text, f"{modulemap.name} does not name {header.name}")
    check(re.search(r"^import " + re.escape(c_module) + r"$", swift_text, re.M) is not None,
          f"{swift.name} does not import {c_module}")
    check((package_dir / "Sources" / swift_module).is_dir(), f"Sources/{swift_module} is missing")

# 4. symbols: Swift -> header -> library
declared = set(re.findall(r"\b((?:uniffi|ffi)_tessera_ffi_\w+)\s*\(", header_text))
called = set(re.findall(r"\b((?:uniffi|ffi)_tessera_ffi_\w+)\s*\(", swift_text))
check(len(declared) > 50, f"only {len(declared)} functions declared in {header.name}")
for name in sorted(called - declared):
    check(False, f"{swift.name} calls {name}, which {header.name} does not declare")
nm = subprocess.run(["nm", "-g", "--defined-only", str(library)], capture_output=True, text=True, check=True).stdout
exported = {line.split()[-1].lstrip("_") for line in nm.splitlines() if line.strip() and not line.endswith(":")}
for name in sorted(declared - exported):
    check(False, f"{header.name} declares {name}, which {library.name} does not export")

# 5. hand-written implementations of generated protocols
def protocol_methods(protocol):
    body = re.search(r"public protocol " + protocol + r"\b[^{]*\{(.*?)\n\}", swift_text, re.S)
    check(body is not None, f"{swift.name} has no protocol {protocol}")
    if not body:
        return []
    return [re.sub(r"\s+", " ", m).strip() for m in re.findall(r"func [^\n]+", body.group(1))]

implementations = {"KeyStore": package_dir / "Sources" / swift_module / "KeychainKeyStore.swift"}
for protocol, path in implementations.items():
    text = re.sub(r"\s+", " ", path.read_text())
    check(re.search(r"class \w+\s*:\s*" + protocol + r"\b", text) is not None, f"{path.name} does not adopt {protocol}")
    for method in protocol_methods(protocol):
        check(f"public {method}" in text or f"public {method.replace('  ', ' ')}" in text,
              f"{path.name} lacks `public {method}` of protocol {protocol}")

if errors:
    print("bindings-swift does not fit the generated bindings:")
    for error in errors:
        print("  - " + error)
    sys.exit(1)
print(f"ok: module {swift_module}, C module {binary.group(1)}, {len(called)} FFI functions called, "
      f"{len(declared)} declared and exported by {library.name}; KeychainKeyStore matches KeyStore")
