//! Criterion benchmarks of the core operations next to the bare primitives they must call
//! (their "floor"). After measuring, prints each operation as a ratio to its floor.
//! Run with `scripts/bench`.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // Benchmark set-up, not shipped code.

use std::{hint::black_box, path::PathBuf, time::Duration};

use chacha20poly1305::{ChaCha20Poly1305, KeyInit, aead::AeadInOut};
use criterion::{BenchmarkId, Criterion, Throughput};
use ed25519_dalek::{Signer, SigningKey, Verifier};
use tessera_format::{
    Card, Identity, IdentityKeyPair, Recipient, RootSecret, Timestamp,
    backup::seal_backup,
    envelope::{CHUNK_LENGTH, Decryptor, Encryptor, decrypt_message, encrypt_message},
};
use x25519_dalek::{PublicKey, StaticSecret};

const RECIPIENT_COUNTS: [usize; 4] = [1, 10, 100, 1000];
const STREAM_BYTES: usize = 10 << 20;

fn identity(i: usize) -> IdentityKeyPair {
    let mut seed = [7u8; 32];
    seed[..8].copy_from_slice(&(i as u64).to_be_bytes());
    IdentityKeyPair::from_root_secret(RootSecret::from_bytes(seed))
}

fn floor_primitives(c: &mut Criterion) {
    let mut g = c.benchmark_group("floor");
    let signing = SigningKey::from_bytes(&[1; 32]);
    let message = [0u8; 61];
    g.bench_function("ed25519_sign", |b| {
        b.iter(|| signing.sign(black_box(&message)))
    });
    let signature = signing.sign(&message);
    let verifying = signing.verifying_key();
    g.bench_function("ed25519_verify", |b| {
        b.iter(|| verifying.verify(black_box(&message), &signature))
    });
    g.bench_function("x25519_keygen", |b| {
        b.iter(|| PublicKey::from(&StaticSecret::from(black_box([3u8; 32]))))
    });
    let secret = StaticSecret::from([4u8; 32]);
    let public = PublicKey::from(&StaticSecret::from([5u8; 32]));
    g.bench_function("x25519_agreement", |b| {
        b.iter(|| secret.diffie_hellman(black_box(&public)))
    });
    let aead = ChaCha20Poly1305::new(&[9u8; 32].into());
    let mut small = vec![0u8; 1024 + 72];
    g.bench_function("aead_1KiB", |b| {
        b.iter(|| aead.encrypt_inout_detached(&[0u8; 12].into(), &[], small.as_mut_slice().into()))
    });
    let mut big = vec![0u8; STREAM_BYTES];
    g.throughput(Throughput::Bytes(STREAM_BYTES as u64));
    g.bench_function("aead_10MiB", |b| {
        b.iter(|| {
            for (i, chunk) in big.chunks_mut(CHUNK_LENGTH).enumerate() {
                let mut nonce = [0u8; 12];
                nonce[..8].copy_from_slice(&(i as u64).to_be_bytes());
                let _ = black_box(aead.encrypt_inout_detached(&nonce.into(), &[], chunk.into()));
            }
        })
    });
    g.bench_function("blake3_10MiB", |b| {
        b.iter(|| {
            let mut hasher = blake3::Hasher::new();
            for chunk in big.chunks(CHUNK_LENGTH) {
                hasher.update(chunk);
            }
            black_box(hasher.finalize())
        })
    });
    // The signed digest starts with the header's length and the header (124 bytes for one
    // recipient), so the plaintext's 64 KiB pieces do not start on BLAKE3's subtree
    // boundaries and each piece loses some SIMD parallelism (docs/DECISIONS.md).
    let prefix = [0u8; 124];
    g.bench_function("blake3_10MiB_after_header", |b| {
        b.iter(|| {
            let mut hasher = blake3::Hasher::new();
            hasher.update(&prefix);
            for chunk in big.chunks(CHUNK_LENGTH) {
                hasher.update(chunk);
            }
            black_box(hasher.finalize())
        })
    });
    // The one copy a push API makes: the caller's slice into the output `Vec`.
    let mut copy = Vec::with_capacity(STREAM_BYTES + STREAM_BYTES / 64);
    g.bench_function("copy_10MiB", |b| {
        b.iter(|| {
            copy.clear();
            for chunk in big.chunks(CHUNK_LENGTH) {
                copy.extend_from_slice(chunk);
                copy.extend_from_slice(&[0; 16]);
            }
            black_box(&copy);
        })
    });
    g.finish();
}

fn operations(c: &mut Criterion) {
    let sender = identity(0);
    let sender_card = Card::create(
        &sender,
        Identity::new("alice").unwrap(),
        Timestamp(1_767_225_600),
        None,
    )
    .unwrap();
    let readers: Vec<IdentityKeyPair> = (1..=1000).map(identity).collect();
    let recipients: Vec<Recipient> = readers
        .iter()
        .map(|k| Recipient::from(k.public_keys()))
        .collect();
    let data = vec![0x5a; 1024];

    let mut g = c.benchmark_group("ops");
    g.bench_function("keygen", |b| b.iter(IdentityKeyPair::generate));
    for n in RECIPIENT_COUNTS {
        g.bench_with_input(BenchmarkId::new("encrypt_1KiB", n), &n, |b, &n| {
            b.iter(|| encrypt_message(&sender, &recipients[..n], black_box(&data)))
        });
        let envelope = encrypt_message(&sender, &recipients[..n], &data).unwrap();
        g.bench_with_input(BenchmarkId::new("decrypt_1KiB", n), &n, |b, _| {
            b.iter(|| {
                decrypt_message(
                    &readers[0],
                    black_box(&envelope),
                    std::slice::from_ref(&sender_card),
                    None,
                )
            })
        });
    }
    let big = vec![0x33; STREAM_BYTES];
    g.throughput(Throughput::Bytes(STREAM_BYTES as u64));
    let mut out = Vec::with_capacity(STREAM_BYTES + STREAM_BYTES / 64);
    g.bench_function("stream_encrypt_10MiB", |b| {
        b.iter(|| {
            out.clear();
            let mut encryptor = Encryptor::new(&sender, &recipients[..1]).unwrap();
            for piece in big.chunks(CHUNK_LENGTH) {
                encryptor.update(piece, &mut out).unwrap();
            }
            encryptor.finish(&mut out).unwrap();
        })
    });
    let envelope = out.clone();
    let mut plain = Vec::with_capacity(STREAM_BYTES);
    g.bench_function("stream_decrypt_10MiB", |b| {
        b.iter(|| {
            plain.clear();
            let mut decryptor = Decryptor::new(&readers[0]);
            for piece in envelope.chunks(CHUNK_LENGTH) {
                decryptor.update(piece, &mut plain).unwrap();
            }
            decryptor
                .finish(&mut plain, std::slice::from_ref(&sender_card), None)
                .unwrap();
        })
    });
    g.finish();

    let mut g = c.benchmark_group("backup");
    g.sample_size(10);
    let root = RootSecret::from_bytes([1; 32]);
    g.bench_function("seal_default_kdf", |b| {
        b.iter(|| seal_backup(&root, "correct horse"))
    });
    g.finish();
}

/// Mean time in nanoseconds of a finished benchmark, read from criterion's output.
fn mean_ns(id: &str) -> Option<f64> {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let path = dir.join("criterion").join(id).join("new/estimates.json");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    json["mean"]["point_estimate"].as_f64()
}

fn report() {
    let f = |id: &str| mean_ns(id).unwrap_or(f64::NAN);
    let sign = f("floor/ed25519_sign");
    let verify = f("floor/ed25519_verify");
    let keygen = f("floor/x25519_keygen");
    let agree = f("floor/x25519_agreement");
    let aead = f("floor/aead_1KiB");
    println!("\n== Tessera core: operations as ratios to their floor ==");
    println!(
        "{:<28} {:>12} {:>12} {:>8}",
        "operation", "time", "floor", "ratio"
    );
    let row = |name: &str, t: f64, floor: f64| {
        println!(
            "{name:<28} {:>10.1}µs {:>10.1}µs {:>7.2}×",
            t / 1e3,
            floor / 1e3,
            t / floor
        )
    };
    for n in RECIPIENT_COUNTS {
        let enc = f(&format!("ops/encrypt_1KiB/{n}"));
        row(
            &format!("encrypt 1 KiB → {n}"),
            enc,
            sign + keygen + n as f64 * agree + aead,
        );
        let dec = f(&format!("ops/decrypt_1KiB/{n}"));
        row(
            &format!("decrypt 1 KiB (of {n})"),
            dec,
            agree + aead + verify,
        );
    }
    let per_recipient = (f("ops/encrypt_1KiB/1000") - f("ops/encrypt_1KiB/1")) / 999.0;
    row("each extra recipient", per_recipient, agree);
    let raw = f("floor/aead_10MiB");
    let stream = f("ops/stream_encrypt_10MiB");
    let hash = f("floor/blake3_10MiB");
    let fed = f("floor/blake3_10MiB_after_header");
    let copy = f("floor/copy_10MiB");
    let mb = STREAM_BYTES as f64 / 1e6;
    let rate = |nanos: f64| mb / (nanos / 1e9);
    // Long streams seal and open on a worker (envelope/chunk_worker.rs), so the AEAD
    // alone bounds them; on one thread they would pay the AEAD, a copy and the digest.
    println!(
        "{:<28} {:>8.0} MB/s vs raw AEAD {:>6.0} MB/s: {:.2}× of raw (one thread's floor, AEAD + BLAKE3 + copy: {:.0} MB/s)",
        "stream encrypt 10 MiB",
        rate(stream),
        rate(raw),
        raw / stream,
        rate(raw + fed + copy)
    );
    let stream_dec = f("ops/stream_decrypt_10MiB");
    println!(
        "{:<28} {:>8.0} MB/s: {:.2}× of raw",
        "stream decrypt 10 MiB",
        rate(stream_dec),
        raw / stream_dec
    );
    println!(
        "{:<28} {:>8.0} MB/s bare, {:.0} MB/s as the format feeds it; copy {:.0} MB/s",
        "  BLAKE3",
        rate(hash),
        rate(fed),
        rate(copy)
    );
    println!(
        "{:<28} {:>10.1}µs",
        "identity key generation",
        f("ops/keygen") / 1e3
    );
    println!(
        "{:<28} {:>10.1}ms",
        "backup KDF (default)",
        f("backup/seal_default_kdf") / 1e6
    );
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    floor_primitives(&mut c);
    operations(&mut c);
    c.final_summary();
    report();
}
