//! A short end-to-end demonstration of the core: two identities publish cards, Alice
//! encrypts a message to Bob, Bob decrypts it and verifies that Alice wrote it.

use tessera_core::{
    Card, Identity, IdentityKeyPair, Recipient, Timestamp,
    envelope::{decrypt_message, encrypt_message},
    safety_number,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let now = Timestamp::now();
    let alice_keys = IdentityKeyPair::generate()?;
    let bob_keys = IdentityKeyPair::generate()?;
    let alice = Card::create(&alice_keys, Identity::new("alice")?, now, None)?;
    let bob = Card::create(&bob_keys, Identity::new("bob")?, now, None)?;
    println!("alice's card: {}", alice.id());
    println!("bob's card:   {}", bob.id());

    // Cards travel through an untrusted directory; each side re-verifies what it receives.
    let bob_seen_by_alice = Card::from_text(&bob.to_text())?;
    let alice_seen_by_bob = Card::from_text(&alice.to_text())?;

    let message = b"Meet me at the usual place at noon.";
    let envelope = encrypt_message(
        &alice_keys,
        &[Recipient::from(&bob_seen_by_alice), Recipient::from(&alice)],
        message,
    )?;
    println!(
        "alice encrypted {} bytes for bob and herself: {} bytes of envelope",
        message.len(),
        envelope.len()
    );

    let (plaintext, verified) = decrypt_message(
        &bob_keys,
        &envelope,
        std::slice::from_ref(&alice_seen_by_bob),
        None,
    )?;
    println!(
        "bob decrypted {:?}, signed by {} (card {})",
        String::from_utf8_lossy(&plaintext),
        verified.signer,
        verified.signer_card_id
    );

    let mut tampered = envelope.clone();
    if let Some(byte) = tampered.last_mut() {
        *byte ^= 1;
    }
    let error = decrypt_message(&bob_keys, &tampered, &[alice_seen_by_bob], None)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    println!("a tampered copy is rejected: {error}");
    println!(
        "safety number alice/bob: {}",
        safety_number(
            alice.identity(),
            alice.public_keys(),
            bob.identity(),
            bob.public_keys()
        )
    );
    Ok(())
}
