//! Card parsers: `Card::from_parts`, `Card::from_text`, `CardContent::from_snapshot`,
//! `CardId::from_hex` and `Card`'s JSON form, with round-trip properties on everything
//! that parses: a snapshot re-encodes to the same bytes, a card's text, JSON and id
//! re-parse to the same card.
//!
//! Mode byte modulo 6: 0 `from_parts` (the last 64 bytes are the signature), 1
//! `from_text`, 2 `from_snapshot`, 3 `CardId::from_hex`, 4 JSON; 5 structure-aware: a
//! card made by `Card::create` from fuzz-chosen identity, time and previous id, then
//! mutated in its parts or its text form. The unmodified card must parse back equal;
//! any modification must be rejected (the self-signature covers every snapshot byte and
//! signatures are checked strictly).
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use tessera_format::{Card, CardContent, CardError, CardId, Identity, Timestamp};
use tessera_format_fuzz::{Mutation, NOW, fixtures, mutate};

#[derive(Arbitrary, Debug)]
enum CreatedAt {
    NearNow(i32),
    Any(u64),
}

#[derive(Arbitrary, Debug)]
struct Structured {
    key: u8,
    identity: String,
    created_at: CreatedAt,
    previous: Option<[u8; 32]>,
    via_text: bool,
    mutations: Vec<Mutation>,
    signature_mutations: Vec<Mutation>,
}

/// Round trips every parsed card must survive.
fn check_card(card: &Card) {
    assert_eq!(card.content().to_snapshot(), card.snapshot());
    assert_eq!(
        CardContent::from_snapshot(card.snapshot()).as_ref(),
        Ok(card.content())
    );
    assert_eq!(card.id(), CardId::of_snapshot(card.snapshot()));
    assert_eq!(CardId::from_hex(&card.id().to_hex()), Ok(card.id()));
    assert_eq!(
        Card::from_parts(card.snapshot(), card.signature()).as_ref(),
        Ok(card)
    );
    let text = card.to_text();
    assert_eq!(Card::from_text(&text).as_ref(), Ok(card));
    let json = serde_json::to_vec(card).expect("a card serializes");
    assert_eq!(
        serde_json::from_slice::<Card>(&json).ok().as_ref(),
        Some(card)
    );
}

fn structured(input: Structured) {
    let f = fixtures();
    let keys = match input.key % 3 {
        0 => &f.alice_previous,
        1 => &f.alice_current,
        _ => &f.stranger,
    };
    let Ok(identity) = Identity::new(input.identity) else {
        return;
    };
    let created_at = match input.created_at {
        CreatedAt::NearNow(delta) => Timestamp(NOW.0.saturating_add_signed(i64::from(delta))),
        CreatedAt::Any(t) => Timestamp(t),
    };
    let previous = input.previous.map(CardId);
    let card = match Card::create(keys, identity, created_at, previous) {
        Ok(card) => card,
        Err(error) => {
            assert_eq!(error, CardError::TimestampOutOfRange);
            assert!(created_at < Timestamp::EARLIEST || created_at > Timestamp::LATEST);
            return;
        }
    };
    check_card(&card);
    if input.via_text {
        let original = card.to_text().into_bytes();
        let mut text = original.clone();
        mutate(&mut text, &input.mutations);
        let Ok(text) = String::from_utf8(text.clone()) else {
            return;
        };
        let parsed = Card::from_text(&text);
        if text.as_bytes() == original {
            assert_eq!(parsed, Ok(card));
        } else {
            assert!(parsed.is_err(), "modified card text accepted: {text:?}");
        }
    } else {
        let mut snapshot = card.snapshot().to_vec();
        let mut signature = card.signature().to_vec();
        mutate(&mut snapshot, &input.mutations);
        mutate(&mut signature, &input.signature_mutations);
        let parsed = Card::from_parts(&snapshot, &signature);
        if snapshot == card.snapshot() && signature == card.signature() {
            assert_eq!(parsed, Ok(card));
        } else {
            assert!(parsed.is_err(), "modified card accepted");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 6 {
        0 => {
            let (snapshot, signature) = rest.split_at(rest.len().saturating_sub(64));
            if let Ok(card) = Card::from_parts(snapshot, signature) {
                assert_eq!(
                    (card.snapshot(), &card.signature()[..]),
                    (snapshot, signature)
                );
                check_card(&card);
            }
        }
        1 => {
            let Ok(text) = std::str::from_utf8(rest) else {
                return;
            };
            if let Ok(card) = Card::from_text(text) {
                check_card(&card);
                assert_eq!(card.to_text(), text, "a card has two text forms");
            }
        }
        2 => {
            if let Ok(content) = CardContent::from_snapshot(rest) {
                assert_eq!(content.to_snapshot(), rest);
            }
        }
        3 => {
            let Ok(text) = std::str::from_utf8(rest) else {
                return;
            };
            if let Ok(id) = CardId::from_hex(text) {
                assert_eq!(id.to_hex(), text.to_ascii_lowercase());
            }
        }
        4 => {
            if let Ok(card) = serde_json::from_slice::<Card>(rest) {
                check_card(&card);
            }
        }
        _ => {
            if let Ok(input) = Structured::arbitrary_take_rest(Unstructured::new(rest)) {
                structured(input);
            }
        }
    }
});
