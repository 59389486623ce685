//! `Decryptor` fed the envelope in fuzz-chosen pieces, checked against `decrypt_message`
//! on the whole input: the pieces must never change the outcome (same plaintext and
//! signer, or the same typed error).
//!
//! Mode byte even: raw. Next byte `n`, then `n` big-endian u16 piece lengths, then the
//! envelope; whatever the pieces do not cover is fed in one last `update`.
//! Mode byte odd: structure-aware, as in the `envelope` target (a valid envelope, maybe
//! mutated), with up to 16 piece lengths; an unmodified envelope must give exactly the
//! expected plaintext and signer.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use tessera_format::{
    Card, DecryptError, Timestamp, Verified,
    envelope::{Decryptor, decrypt_message},
};
use tessera_format_fuzz::{EnvelopeSpec, MadeAt, Mutation, fixtures, mutate, split};

#[derive(Arbitrary, Debug)]
struct Structured {
    spec: EnvelopeSpec,
    made_at: MadeAt,
    mutations: Vec<Mutation>,
    pieces: Vec<u32>,
}

fn decrypt_in_pieces(
    pieces: &[&[u8]],
    chain: &[Card],
    made_at: Option<Timestamp>,
) -> Result<(Vec<u8>, Verified), DecryptError> {
    let mut decryptor = Decryptor::new(&fixtures().bob);
    let mut plaintext = Vec::new();
    for piece in pieces {
        if let Err(error) = decryptor.update(piece, &mut plaintext) {
            // A failed decryptor stays failed.
            assert!(decryptor.update(b"", &mut plaintext).is_err());
            return Err(error);
        }
    }
    let verified = decryptor.finish(&mut plaintext, chain, made_at)?;
    Ok((plaintext, verified))
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    let f = fixtures();
    if mode % 2 == 0 {
        let Some((count, rest)) = rest.split_first() else {
            return;
        };
        let header_length = usize::from(*count) * 2;
        if rest.len() < header_length {
            return;
        }
        let (lengths, envelope) = rest.split_at(header_length);
        let lengths = lengths
            .chunks_exact(2)
            .map(|pair| usize::from(u16::from_be_bytes([pair[0], pair[1]])));
        let pieces = split(envelope, lengths);
        let whole = decrypt_message(&f.bob, envelope, &f.alice_chain, None);
        assert_eq!(decrypt_in_pieces(&pieces, &f.alice_chain, None), whole);
        return;
    }
    let Ok(input) = Structured::arbitrary_take_rest(Unstructured::new(rest)) else {
        return;
    };
    let plaintext = input.spec.plaintext.bytes();
    let Some(original) = input.spec.seal(&plaintext) else {
        return;
    };
    let mut envelope = original.clone();
    mutate(&mut envelope, &input.mutations);
    let made_at = input.made_at.timestamp();
    let pieces = split(
        &envelope,
        input.pieces.iter().map(|&length| length as usize),
    );
    let streamed = decrypt_in_pieces(&pieces, &f.alice_chain, made_at);
    if envelope == original {
        assert_eq!(streamed, input.spec.expected(&plaintext, made_at));
    } else {
        assert!(streamed.is_err(), "a modified envelope was accepted");
        assert_eq!(
            streamed,
            decrypt_message(&f.bob, &envelope, &f.alice_chain, made_at)
        );
    }
});
