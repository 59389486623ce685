//! `decrypt_message` as Bob, with Alice's two-card chain as the expected sender.
//!
//! Mode byte even: the rest of the input is the envelope (raw bytes; no panic allowed).
//! Mode byte odd: structure-aware. The input describes a valid envelope (plaintext,
//! signer, recipients, randomness) and up to four mutations. The target builds the
//! envelope, mutates it and checks the exact outcome: the unmodified envelope decrypts to
//! the plaintext with the right signer or gives the one expected typed error; any envelope
//! that differs from it in any byte is rejected.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use tessera_format::envelope::decrypt_message;
use tessera_format_fuzz::{EnvelopeSpec, MadeAt, Mutation, fixtures, mutate};

#[derive(Arbitrary, Debug)]
struct Structured {
    spec: EnvelopeSpec,
    made_at: MadeAt,
    mutations: Vec<Mutation>,
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    let f = fixtures();
    if mode % 2 == 0 {
        let _ = decrypt_message(&f.bob, rest, &f.alice_chain, None);
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
    let result = decrypt_message(&f.bob, &envelope, &f.alice_chain, made_at);
    if envelope == original {
        assert_eq!(result, input.spec.expected(&plaintext, made_at));
    } else {
        assert!(
            result.is_err(),
            "a modified envelope was accepted: {:?}",
            input.mutations
        );
    }
});
