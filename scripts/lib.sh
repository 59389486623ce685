# Shared helpers for scripts/*: idempotent installs, so every script works on a bare
# machine and is fast when everything is already present. Source it; do not run it.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
export PATH="$HOME/.cargo/bin:$PATH"

step() { printf '\n==> %s\n' "$*"; }

# ensure_rust: rustup's stable toolchain with rustfmt and clippy.
ensure_rust() {
  if ! command -v cargo >/dev/null 2>&1; then
    step "installing Rust (rustup)"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  fi
  local have
  have="$(rustup component list --installed 2>/dev/null || true)"
  for component in rustfmt clippy; do
    grep -q "^$component" <<<"$have" || rustup component add "$component"
  done
}

# ensure_rust_target TARGET: a rustup target such as wasm32-unknown-unknown.
ensure_rust_target() {
  rustup target list --installed | grep -qx "$1" || rustup target add "$1"
}

APT_UPDATED=""
# ensure_apt PACKAGE COMMAND: installs a Debian package unless COMMAND is on PATH.
ensure_apt() {
  local package="$1" command="$2"
  command -v "$command" >/dev/null 2>&1 && return 0
  step "installing $package (apt)"
  if [ -z "$APT_UPDATED" ]; then
    apt-get update -qq
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null
}

# ensure_cargo_tool CRATE VERSION BINARY: a pinned cargo-installed tool.
ensure_cargo_tool() {
  local crate="$1" version="$2" binary="$3"
  if command -v "$binary" >/dev/null 2>&1 && "$binary" --version 2>/dev/null | grep -q "$version"; then
    return 0
  fi
  step "installing $crate $version (cargo install, once)"
  cargo install "$crate" --version "$version"
}

# ensure_nightly: rustup's nightly toolchain (cargo-fuzz needs -Zsanitizer), minimal profile.
ensure_nightly() {
  rustup toolchain list | grep -q '^nightly-' && return 0
  step "installing the nightly Rust toolchain (rustup, once)"
  rustup toolchain install nightly --profile minimal
}
