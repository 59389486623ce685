//! Streams: 200 MiB through encrypt_stream → decrypt_stream in constant memory (peak RSS
//! checked), files through the std::io helpers, progress and cancellation.
//!
//! The memory test runs alone in a child process of the suite binary, so that the peak-RSS
//! measurement sees only this work, not the suite's other tests running beside it.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // Test code: failures should panic.

use std::{
    io::{Read, Seek, SeekFrom, Write},
    process::Command,
    sync::{Arc, Mutex},
};

use crate::common::TestServer;
use tessera_client::{CancellationToken, Error, Progress, StreamOptions};

const STREAM_BYTES: u64 = 200 * 1024 * 1024;
const PIECE: usize = 1024 * 1024;

/// A field of /proc/self/status in KiB (Linux).
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find(|line| line.starts_with(field))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|value| value.parse().ok())
        .unwrap()
}

/// Resets the peak-RSS counter (VmHWM) to the current RSS, where the kernel allows it.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn piece(index: u64) -> Vec<u8> {
    let mut data = vec![0u8; PIECE];
    for (i, byte) in data.iter_mut().enumerate() {
        *byte = (index as usize * 31 + i * 7) as u8;
    }
    data
}

/// Set in the child process that runs [`streams_of_any_size_in_constant_memory`] alone.
const ALONE_VARIABLE: &str = "TESSERA_TEST_STREAM_ALONE";

#[test]
fn streams_of_any_size_in_constant_memory() {
    if std::env::var_os(ALONE_VARIABLE).is_some() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        return runtime.block_on(stream_in_constant_memory());
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "streams::streams_of_any_size_in_constant_memory"])
        .args(["--nocapture", "--test-threads=1"])
        .env(ALONE_VARIABLE, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "the child test failed:\n{stdout}");
    assert!(
        stdout.contains("1 passed"),
        "the child ran no test:\n{stdout}"
    );
}

async fn stream_in_constant_memory() {
    let server = TestServer::start().await;
    let alice = server.registered("alice").await;
    let bob = server.registered("bob").await;
    let found = alice.tessera.find_users(&["bob"]).await.unwrap();
    let alice_card = bob.tessera.find_users(&["alice"]).await.unwrap();
    let alice_card = alice_card.get("alice").unwrap().clone();

    // --- 200 MiB, encrypted by Alice and decrypted by Bob piece by piece, interleaved, so
    // nothing of the size of the stream is ever held.
    let reports = Arc::new(Mutex::new(0u64));
    let sink = reports.clone();
    let mut encrypt = alice
        .tessera
        .encrypt_stream(
            &found,
            StreamOptions::new()
                .with_total_bytes(STREAM_BYTES)
                .with_progress(move |p: Progress| *sink.lock().unwrap() = p.processed_bytes),
        )
        .await
        .unwrap();
    let mut decrypt = bob
        .tessera
        .decrypt_stream(&alice_card, None, StreamOptions::new())
        .await
        .unwrap();
    reset_peak();
    let baseline_kib = status_kib("VmHWM:");
    let mut ciphertext = Vec::with_capacity(PIECE + 4096);
    let mut plaintext = Vec::with_capacity(2 * PIECE);
    let mut expected = blake3::Hasher::new();
    let mut actual = blake3::Hasher::new();
    let mut ciphertext_bytes = 0u64;
    for index in 0..STREAM_BYTES / PIECE as u64 {
        let data = piece(index);
        expected.update(&data);
        encrypt.update(&data, &mut ciphertext).unwrap();
        ciphertext_bytes += ciphertext.len() as u64;
        decrypt.update(&ciphertext, &mut plaintext).unwrap();
        ciphertext.clear();
        actual.update(&plaintext);
        plaintext.clear();
    }
    encrypt.finish(&mut ciphertext).unwrap();
    ciphertext_bytes += ciphertext.len() as u64;
    decrypt.update(&ciphertext, &mut plaintext).unwrap();
    let verified = decrypt.finish(&mut plaintext).unwrap();
    actual.update(&plaintext);
    let peak_growth_kib = status_kib("VmHWM:").saturating_sub(baseline_kib);
    assert_eq!(expected.finalize(), actual.finalize());
    assert_eq!(verified.signer_card_id, alice_card.id());
    assert_eq!(*reports.lock().unwrap(), STREAM_BYTES);
    assert!(ciphertext_bytes > STREAM_BYTES);
    eprintln!(
        "200 MiB stream: peak RSS grew by {} KiB (baseline {} KiB)",
        peak_growth_kib, baseline_kib
    );
    // Constant memory: a few MiB of buffers, far below the 200 MiB streamed.
    assert!(
        peak_growth_kib < 32 * 1024,
        "peak RSS grew by {peak_growth_kib} KiB while streaming 200 MiB"
    );

    // --- Files through the std::io helpers, with the sender reading her own file back.
    let mut source = tempfile::tempfile().unwrap();
    for index in 0..8 {
        source.write_all(&piece(index)).unwrap();
    }
    source.seek(SeekFrom::Start(0)).unwrap();
    let mut sealed = tempfile::tempfile().unwrap();
    let read = alice
        .tessera
        .encrypt_stream(&found, StreamOptions::new())
        .await
        .unwrap()
        .pipe(&mut source, &mut sealed)
        .unwrap();
    assert_eq!(read, 8 * PIECE as u64);
    sealed.seek(SeekFrom::Start(0)).unwrap();
    let own = alice.tessera.own_card().unwrap();
    let mut opened = Vec::new();
    alice
        .tessera
        .decrypt_stream(&own, None, StreamOptions::new())
        .await
        .unwrap()
        .pipe(&mut sealed, &mut opened)
        .unwrap();
    let mut original = Vec::new();
    source.seek(SeekFrom::Start(0)).unwrap();
    source.read_to_end(&mut original).unwrap();
    assert_eq!(opened, original);

    // --- A damaged file fails (and the caller discards what was written).
    sealed.seek(SeekFrom::Start(3 * PIECE as u64)).unwrap();
    sealed.write_all(&[0xFF; 16]).unwrap();
    sealed.seek(SeekFrom::Start(0)).unwrap();
    let error = bob
        .tessera
        .decrypt_stream(&alice_card, None, StreamOptions::new())
        .await
        .unwrap()
        .pipe(&mut sealed, std::io::sink())
        .unwrap_err();
    assert_eq!(error, Error::DecryptionFailed);

    // --- Cancellation from the progress callback of a running stream.
    let token = CancellationToken::new();
    let trigger = token.clone();
    let options =
        StreamOptions::new()
            .with_cancellation(token)
            .with_progress(move |p: Progress| {
                if p.processed_bytes >= 4 * PIECE as u64 {
                    trigger.cancel();
                }
            });
    source.seek(SeekFrom::Start(0)).unwrap();
    let error = alice
        .tessera
        .encrypt_stream(&found, options)
        .await
        .unwrap()
        .pipe(&mut source, std::io::sink())
        .unwrap_err();
    assert_eq!(error, Error::Cancelled);
    assert_eq!(error.code(), "cancelled");
    server.stop().await;
}
