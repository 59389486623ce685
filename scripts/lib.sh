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
# apt_install PACKAGE...: installs Debian packages (updating the index once per run).
apt_install() {
  step "installing $* (apt)"
  if [ -z "$APT_UPDATED" ]; then
    apt-get update -qq
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# ensure_apt PACKAGE COMMAND: installs a Debian package unless COMMAND is on PATH.
ensure_apt() {
  command -v "$2" >/dev/null 2>&1 || apt_install "$1"
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

# ensure_python_venv DIR REQUIREMENTS: a virtualenv with pinned packages, rebuilt when the
# requirements change.
ensure_python_venv() {
  local dir="$1" requirements="$2"
  python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || apt_install python3-venv
  if [ ! -x "$dir/bin/python" ] || ! cmp -s "$requirements" "$dir/requirements.txt"; then
    step "creating Python environment $dir"
    rm -rf "$dir"
    python3 -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$dir/requirements.txt"
  fi
}

# ensure_node: Node.js >= 20 and npm (Debian's packages when missing or too old).
ensure_node() {
  local major
  major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  if [ "$major" -lt 20 ] || ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm
    major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
    [ "$major" -ge 20 ] || { echo "Node.js >= 20 is required, found $(node --version)" >&2; exit 1; }
  fi
}

# npm_ci DIR: `npm ci` in DIR when its node_modules does not match its package-lock.json.
npm_ci() {
  local dir="$1"
  if ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.tessera-installed-lock" 2>/dev/null; then
    step "npm ci in ${dir#"$ROOT"/}"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$dir/package-lock.json" "$dir/node_modules/.tessera-installed-lock"
  fi
}
