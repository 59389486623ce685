//! The Rust half of scripts/bench-kotlin: the same calls the Kotlin harness
//! (bindings-kotlin/src/test/kotlin/dev/tessera/bench/OverheadBench.kt) makes through the
//! generated bindings, made here directly on the adapter's Rust API, so the difference is
//! the cost of crossing the FFI boundary (argument and result conversion, the foreign
//! future machinery for async calls). A plain timing harness, not a test.
//!
//! `cargo run --release -p tessera-ffi --example overhead`

use std::{
    sync::Arc,
    time::{Instant, SystemTime},
};

use tessera_ffi::{
    card::{Card, FoundUsers},
    client::{
        Tessera, TesseraConfig,
        platform::{TokenProvider, in_memory_key_store},
        streams::CancellationToken,
    },
    envelope::{decrypt_message, encrypt_message},
    error::PlatformError,
    keys::KeyPair,
};

/// Never called: the client is initialized offline with a known identity.
struct NoTokens;

#[async_trait::async_trait]
impl TokenProvider for NoTokens {
    async fn token(&self) -> Result<String, PlatformError> {
        Err(PlatformError::Failed {
            reason: "offline benchmark".into(),
        })
    }
}

const ROUNDS: usize = 5;
const CALLS: usize = 5_000;

/// Median over ROUNDS of the mean time per call, in microseconds.
fn measure(name: &str, mut call: impl FnMut()) {
    for _ in 0..2 * CALLS {
        call();
    }
    let mut means: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..CALLS {
                call();
            }
            start.elapsed().as_secs_f64() * 1e6 / CALLS as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    let median = means.get(ROUNDS / 2).copied().unwrap_or(f64::NAN);
    println!("rust   {name:<28} {median:>8.2} us/call");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let keys = KeyPair::from_root_secret(vec![0x44; 32])?;
    let card = Card::create(keys.clone(), "bench".into(), SystemTime::now(), None)?;
    let data = vec![0x5a; 1024];

    let token = CancellationToken::new();
    measure("no-op call (isCancelled)", || {
        std::hint::black_box(token.is_cancelled());
    });

    let envelope = encrypt_message(keys.clone(), vec![card.clone()], data.clone())?;
    measure("encryptMessage 1 KiB", || {
        let _ = encrypt_message(keys.clone(), vec![card.clone()], data.clone());
    });
    measure("decryptMessage 1 KiB", || {
        let _ = decrypt_message(keys.clone(), envelope.clone(), vec![card.clone()], None);
    });

    let store = in_memory_key_store();
    let tessera = runtime.block_on(async {
        store
            .put("tessera/bench/root-secret".into(), vec![0x44; 32])
            .await?;
        store
            .put("tessera/bench/card".into(), card.to_text().into_bytes())
            .await?;
        Tessera::initialize(TesseraConfig {
            server_url: "http://127.0.0.1:9".into(),
            key_store: store.clone(),
            token_provider: Arc::new(NoTokens),
            key_changed_listener: None,
            identity: Some("bench".into()),
        })
        .await
        .map_err(|e| -> Box<dyn std::error::Error> { e.to_string().into() })
    })?;
    let users = FoundUsers::from_cards(vec![card.clone()]);
    let sealed = runtime.block_on(tessera.auth_encrypt(data.clone(), users.clone()))?;
    measure("authEncrypt 1 KiB (async)", || {
        let _ = runtime.block_on(tessera.auth_encrypt(data.clone(), users.clone()));
    });
    measure("authDecrypt 1 KiB (async)", || {
        let _ = runtime.block_on(tessera.auth_decrypt(sealed.clone(), Some(card.clone()), None));
    });
    Ok(())
}
