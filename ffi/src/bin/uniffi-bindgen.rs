//! UniFFI's `uniffi-bindgen` command line, built from the workspace's UniFFI version (so the
//! generated code always matches the scaffolding) by scripts/build-kotlin and
//! scripts/build-swift: `uniffi-bindgen generate --library libtessera_ffi.so --language
//! kotlin|swift --config uniffi.toml --out-dir DIR`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
