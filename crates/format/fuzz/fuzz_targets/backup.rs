//! `BackupBlob::parse`, and `BackupBlob::open` whenever the parsed Argon2id parameters are
//! tiny (at most 64 KiB and 2 passes; real ones would make every run take seconds).
//!
//! Mode byte even: raw. Next byte `n`, then an `n`-byte password, then the blob.
//! Mode byte odd: structure-aware. A blob sealed with fuzz-chosen tiny parameters, salt,
//! nonce, secret and password, then mutated. The unmodified blob opens with its password
//! to the same secret and refuses any other with `WrongPassword`; a modified blob must
//! never open (the header is authenticated data).
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use tessera_format::{
    BackupError, KdfParams, RootSecret,
    backup::{BACKUP_BLOB_LENGTH, BackupBlob, seal_backup_with},
};
use tessera_format_fuzz::{Mutation, mutate};

fn is_tiny(params: KdfParams) -> bool {
    params.memory_kib <= 64 && params.iterations <= 2
}

#[derive(Arbitrary, Debug)]
struct Structured {
    secret: [u8; 32],
    password: String,
    other_password: Option<String>,
    memory_kib: u8,
    iterations: bool,
    parallelism: u8,
    salt: [u8; 16],
    nonce: [u8; 12],
    mutations: Vec<Mutation>,
}

fn structured(input: Structured) {
    // Argon2 needs at least 8 KiB per lane; blobs allow up to MAX_PARALLELISM lanes.
    let memory_kib = 8 + u32::from(input.memory_kib) % 57;
    let lanes = (memory_kib / 8).min(KdfParams::MAX_PARALLELISM);
    let params = KdfParams {
        memory_kib,
        iterations: 1 + u32::from(input.iterations),
        parallelism: 1 + u32::from(input.parallelism) % lanes,
    };
    let root = RootSecret::from_bytes(input.secret);
    let original = match seal_backup_with(&root, &input.password, params, input.salt, input.nonce) {
        Ok(blob) => blob,
        Err(error) => {
            assert!(input.password.is_empty());
            assert_eq!(error, BackupError::EmptyPassword);
            return;
        }
    };
    assert_eq!(original.len(), BACKUP_BLOB_LENGTH);
    let mut blob = original.clone();
    mutate(&mut blob, &input.mutations);
    let Ok(parsed) = BackupBlob::parse(&blob) else {
        assert_ne!(blob, original, "a sealed blob does not parse");
        return;
    };
    if !is_tiny(parsed.params()) {
        return;
    }
    let opened = parsed.open(&input.password);
    if blob == original {
        assert_eq!(parsed.params(), params);
        assert_eq!(opened.map(|secret| *secret.as_bytes()), Ok(input.secret));
        if let Some(other) = input
            .other_password
            .filter(|other| *other != input.password)
        {
            assert_eq!(
                parsed.open(&other).map(|_| ()),
                Err(BackupError::WrongPassword)
            );
        }
    } else {
        assert!(opened.is_err(), "a modified backup opened");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let Some((length, rest)) = rest.split_first() else {
            return;
        };
        let (password, blob) = rest.split_at(usize::from(*length).min(rest.len()));
        let Ok(parsed) = BackupBlob::parse(blob) else {
            return;
        };
        if is_tiny(parsed.params()) {
            let _ = parsed.open(&String::from_utf8_lossy(password));
        }
        return;
    }
    if let Ok(input) = Structured::arbitrary_take_rest(Unstructured::new(rest)) {
        structured(input);
    }
});
