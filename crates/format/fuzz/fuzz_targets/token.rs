//! `TokenVerifier::verify` (fixed verifier for app-1 and its default audience with one app
//! key, fixed `now`) and `read_claims_unverified`. Whatever verifies must also read back
//! unverified to the same claims and satisfy the issuer, audience, subject and time rules.
//!
//! Mode byte even: the rest is the token text.
//! Mode byte odd: structure-aware. Claims with fuzz-chosen issuer, audience, subject and
//! times (near `now` or anywhere) signed by the accepted or a stranger app key, then maybe
//! mutated. The unmodified token must give exactly the outcome the rules predict; a
//! modified one must never verify.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use tessera_format::{Audience, Identity, TokenClaims, TokenError, jwt::{
        DEFAULT_LEEWAY_SECONDS, DEFAULT_MAX_LIFETIME_SECONDS, MAX_TOKEN_LENGTH,
        read_claims_unverified,
    }};
use tessera_format_fuzz::{AUDIENCE, ISSUER, Mutation, NOW, fixtures, mutate};

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Time {
    NearNow(i32),
    Any(u64),
}

impl Time {
    fn seconds(self) -> u64 {
        match self {
            Time::NearNow(delta) => NOW.0.saturating_add_signed(i64::from(delta)),
            Time::Any(t) => t,
        }
    }
}

/// The `aud` claim: none, ours, another, or an array that may hold ours.
#[derive(Arbitrary, Debug)]
enum AudienceChoice {
    Missing,
    Ours,
    Other(String),
    Several { others: Vec<String>, ours_at: Option<u8> },
}

impl AudienceChoice {
    fn claim(self) -> Option<Audience> {
        match self {
            AudienceChoice::Missing => None,
            AudienceChoice::Ours => Some(Audience::One(AUDIENCE.to_owned())),
            AudienceChoice::Other(other) => Some(Audience::One(other)),
            AudienceChoice::Several { mut others, ours_at } => {
                if let Some(at) = ours_at {
                    others.insert(usize::from(at).min(others.len()), AUDIENCE.to_owned());
                }
                Some(Audience::Several(others))
            }
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Structured {
    our_issuer: bool,
    issuer: String,
    audience: AudienceChoice,
    subject: String,
    iat: Time,
    exp: Time,
    nbf: Option<Time>,
    stranger_key: bool,
    mutations: Vec<Mutation>,
}

/// The rules docs/FORMAT.md §6 states, in the order the verifier reports them.
fn expected(claims: &TokenClaims) -> Result<TokenClaims, TokenError> {
    if claims.iss != ISSUER {
        return Err(TokenError::WrongIssuer);
    }
    match &claims.aud {
        None => return Err(TokenError::WrongAudience("it has no aud claim")),
        Some(audience) if !audience.as_slice().iter().any(|a| a == AUDIENCE) => {
            return Err(TokenError::WrongAudience("its aud names another audience"));
        }
        Some(_) => {}
    }
    if Identity::new(claims.sub.clone()).is_err() {
        return Err(TokenError::InvalidSubject);
    }
    if claims.exp <= NOW.minus(DEFAULT_LEEWAY_SECONDS).0 {
        return Err(TokenError::Expired);
    }
    let latest_start = NOW.plus(DEFAULT_LEEWAY_SECONDS).0;
    if claims.iat > latest_start || claims.nbf.is_some_and(|nbf| nbf > latest_start) {
        return Err(TokenError::NotYetValid);
    }
    if claims.exp < claims.iat || claims.exp - claims.iat > DEFAULT_MAX_LIFETIME_SECONDS {
        return Err(TokenError::LifetimeTooLong);
    }
    Ok(claims.clone())
}

/// Checks one token; returns the verification result.
fn check(token: &str) -> Result<TokenClaims, TokenError> {
    let verified = fixtures().verifier.verify(token, NOW);
    let unverified = read_claims_unverified(token);
    if let Ok(claims) = &verified {
        assert_eq!(unverified.as_ref(), Ok(claims));
        assert_eq!(expected(claims).as_ref(), Ok(claims));
    }
    verified
}

fn structured(input: Structured) {
    let f = fixtures();
    let claims = TokenClaims {
        iss: if input.our_issuer {
            ISSUER.to_owned()
        } else {
            input.issuer
        },
        sub: input.subject,
        aud: input.audience.claim(),
        iat: input.iat.seconds(),
        exp: input.exp.seconds(),
        nbf: input.nbf.map(Time::seconds),
    };
    let key = if input.stranger_key {
        &f.stranger_app_key
    } else {
        &f.app_key
    };
    let original = key.sign_claims(&claims);
    let too_long = original.len() > MAX_TOKEN_LENGTH;
    // The length limit applies to reading too: a long issuer mints an unreadable token.
    assert_eq!(
        read_claims_unverified(&original),
        if too_long {
            Err(TokenError::Malformed("token too long"))
        } else {
            Ok(claims.clone())
        }
    );
    let mut bytes = original.clone().into_bytes();
    mutate(&mut bytes, &input.mutations);
    let Ok(token) = String::from_utf8(bytes) else {
        return;
    };
    let verified = check(&token);
    if token != original {
        assert!(verified.is_err(), "a modified token verified: {token:?}");
    } else if too_long {
        assert_eq!(verified, Err(TokenError::Malformed("token too long")));
    } else if input.stranger_key {
        assert_eq!(verified, Err(TokenError::UnknownKey));
    } else {
        assert_eq!(verified, expected(&claims));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        if let Ok(token) = std::str::from_utf8(rest) {
            let _ = check(token);
        }
        return;
    }
    if let Ok(input) = Structured::arbitrary_take_rest(Unstructured::new(rest)) {
        structured(input);
    }
});
