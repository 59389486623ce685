//! Criterion benchmarks of the client's operations, per operation, with lookups and
//! registrations measured against the real tessera-server (in-process, loopback, SQLite in
//! a temporary directory). Prints a table of per-operation times at the end.
//! Run with `scripts/bench`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // Set-up code.

use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use criterion::{BenchmarkId, Criterion, Throughput};
use tessera_client::{
    Config, FoundUsers, InMemoryKeyStore, PlatformError, StreamOptions, Tessera, TokenProvider,
};
use tessera_format::{Identity, Timestamp, jwt::AppKey};
use tokio::runtime::Runtime;

const APP_ID: &str = "tessera-bench";
const DIRECTORY_SIZE: usize = 1000;
const LOOKUP_SIZES: [usize; 3] = [1, 100, 1000];
const RECIPIENT_COUNTS: [usize; 4] = [1, 10, 100, 1000];
const STREAM_BYTES: usize = 10 << 20;

struct Tokens {
    key: Arc<AppKey>,
    identity: Identity,
}

#[async_trait::async_trait]
impl TokenProvider for Tokens {
    async fn token(&self) -> Result<String, PlatformError> {
        Ok(self.key.mint(
            APP_ID,
            &tessera_format::jwt::default_audience(APP_ID),
            &self.identity,
            Timestamp::now(),
            1200,
        ))
    }
}

struct Bench {
    url: String,
    key: Arc<AppKey>,
    _server: tessera_server::RunningServer,
    _dir: tempfile::TempDir,
}

impl Bench {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key = Arc::new(AppKey::generate().unwrap());
        let mut config = tessera_server::Config::new(
            APP_ID,
            vec![tessera_server::AppPublicKey(key.public_key())],
            &dir.path().join("tessera.db"),
        );
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.limits.identity_requests_per_second = 0;
        config.limits.address_requests_per_second = 0;
        let server = tessera_server::spawn(&config).await.unwrap();
        Self {
            url: format!("http://{}", server.local_addr),
            key,
            _server: server,
            _dir: dir,
        }
    }

    async fn device(&self, identity: &str) -> Tessera {
        let tokens = Arc::new(Tokens {
            key: self.key.clone(),
            identity: Identity::new(identity).unwrap(),
        });
        Tessera::initialize(Config::new(
            &self.url,
            Arc::new(InMemoryKeyStore::new()),
            tokens,
        ))
        .await
        .unwrap()
    }
}

fn name(i: usize) -> String {
    format!("user-{i:05}")
}

/// Runs the client benchmarks; returns the group ticket size per participant.
fn client_operations(c: &mut Criterion) -> f64 {
    let rt = Runtime::new().unwrap();
    let bench = rt.block_on(Bench::start());
    // The directory: DIRECTORY_SIZE registered users (set-up, not measured).
    let users: Vec<Tessera> = rt.block_on(async {
        let mut users = Vec::new();
        for i in 0..DIRECTORY_SIZE {
            let user = bench.device(&name(i)).await;
            user.register().await.unwrap();
            users.push(user);
        }
        users
    });
    let alice = &users[0];
    let everyone: Vec<String> = (0..DIRECTORY_SIZE).map(name).collect();
    // Alice's card cache holds everyone, whichever benchmarks a filter selects.
    rt.block_on(alice.find_users(&everyone)).unwrap();

    let mut g = c.benchmark_group("client");
    g.sample_size(20);
    let mut fresh = 0usize;
    g.bench_function("register", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    fresh += 1;
                    let device = bench.device(&format!("fresh-{fresh}")).await;
                    let start = Instant::now();
                    device.register().await.unwrap();
                    total += start.elapsed();
                }
                total
            })
        })
    });
    for n in LOOKUP_SIZES {
        let names = &everyone[..n];
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("find_users", n), &n, |b, _| {
            b.iter(|| rt.block_on(alice.find_users(names)).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("find_cached_users", n), &n, |b, _| {
            b.iter(|| rt.block_on(alice.find_cached_users(names)).unwrap())
        });
    }
    g.throughput(Throughput::Elements(DIRECTORY_SIZE as u64));
    g.bench_with_input(
        BenchmarkId::new("update_cached_users", DIRECTORY_SIZE),
        &DIRECTORY_SIZE,
        |b, _| b.iter(|| rt.block_on(alice.update_cached_users()).unwrap()),
    );

    let found: FoundUsers = rt.block_on(alice.find_cached_users(&everyone)).unwrap();
    let data = vec![0x5a; 1024];
    for n in RECIPIENT_COUNTS {
        let recipients: Vec<_> = found.cards().skip(1).take(n).cloned().collect();
        g.throughput(Throughput::Elements(1));
        g.bench_with_input(BenchmarkId::new("auth_encrypt_1KiB", n), &n, |b, _| {
            b.iter(|| rt.block_on(alice.auth_encrypt(&data, &recipients)).unwrap())
        });
    }
    let reader = &users[1];
    let to_reader = rt
        .block_on(alice.auth_encrypt(&data, found.get(&name(1))))
        .unwrap();
    let alice_card = alice.own_card().unwrap();
    g.bench_function("auth_decrypt_1KiB", |b| {
        b.iter(|| {
            rt.block_on(reader.auth_decrypt(&to_reader, &alice_card, None))
                .unwrap()
        })
    });
    let bob_card = reader.own_card().unwrap();
    g.bench_function("safety_number", |b| {
        b.iter(|| rt.block_on(alice.safety_number(&bob_card)).unwrap())
    });

    let big = vec![0x33u8; STREAM_BYTES];
    let one = [bob_card.clone()];
    g.throughput(Throughput::Bytes(STREAM_BYTES as u64));
    g.sample_size(10);
    g.bench_function("encrypt_stream_10MiB", |b| {
        b.iter(|| {
            let mut stream = rt
                .block_on(alice.encrypt_stream(&one, StreamOptions::new()))
                .unwrap();
            let mut out = Vec::with_capacity(STREAM_BYTES + 65536);
            stream.update(&big, &mut out).unwrap();
            stream.finish(&mut out).unwrap();
            out
        })
    });
    let mut sealed = Vec::new();
    {
        let mut stream = rt
            .block_on(alice.encrypt_stream(&one, StreamOptions::new()))
            .unwrap();
        stream.update(&big, &mut sealed).unwrap();
        stream.finish(&mut sealed).unwrap();
    }
    g.bench_function("decrypt_stream_10MiB", |b| {
        b.iter(|| {
            let mut stream = rt
                .block_on(reader.decrypt_stream(&alice_card, None, StreamOptions::new()))
                .unwrap();
            let mut out = Vec::with_capacity(STREAM_BYTES);
            stream.update(&sealed, &mut out).unwrap();
            stream.finish(&mut out).unwrap();
            out
        })
    });

    g.throughput(Throughput::Elements(1));
    let backer = &users[2];
    g.bench_function("backup_private_key", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    backer.backup_private_key("bench password").await.unwrap();
                    total += start.elapsed();
                    backer.reset_private_key_backup().await.unwrap();
                }
                total
            })
        })
    });
    rt.block_on(backer.backup_private_key("bench password"))
        .unwrap();
    let restorer_name = name(2);
    g.bench_function("restore_private_key", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let device = bench.device(&restorer_name).await;
                    let start = Instant::now();
                    device.restore_private_key("bench password").await.unwrap();
                    total += start.elapsed();
                }
                total
            })
        })
    });
    g.bench_function("derive_passwords", |b| {
        b.iter(|| Tessera::derive_passwords("bench password", "app-bench", "alice").unwrap())
    });
    g.finish();
    group_operations(c, &rt, &users, &everyone);
    ticket_bytes_per_participant(&users)
}

/// Mean time in nanoseconds of a finished benchmark, read from criterion's output.
/// Groups: creation at 1000 participants (with and without the lookups), and messages at
/// 3 and 1000 participants, which should cost the same.
fn group_operations(c: &mut Criterion, rt: &Runtime, users: &[Tessera], everyone: &[String]) {
    let alice = &users[0];
    let mut g = c.benchmark_group("groups");
    g.sample_size(10);
    let others: Vec<String> = everyone[1..].to_vec();
    let found = rt.block_on(alice.find_cached_users(&others)).unwrap();
    let mut serial = 0usize;
    g.bench_function("create_1000_cached_cards", |b| {
        b.iter(|| {
            serial += 1;
            rt.block_on(alice.create_group(&format!("cached-{serial}"), &found))
                .unwrap()
        })
    });
    g.bench_function("create_1000_with_lookup", |b| {
        b.iter(|| {
            serial += 1;
            rt.block_on(async {
                let found = alice.find_users(&others).await.unwrap();
                alice
                    .create_group(&format!("lookup-{serial}"), &found)
                    .await
                    .unwrap()
            })
        })
    });
    let data = vec![0x42; 1024];
    let reader = &users[1];
    let alice_card = alice.own_card().unwrap();
    for size in [3usize, 1000] {
        let members = rt
            .block_on(alice.find_cached_users(&everyone[1..size]))
            .unwrap();
        let id = format!("messages-{size}");
        let group = rt.block_on(alice.create_group(&id, &members)).unwrap();
        let loaded = rt.block_on(reader.load_group(&id, &alice_card)).unwrap();
        let message = rt.block_on(group.encrypt(&data)).unwrap();
        g.bench_with_input(BenchmarkId::new("encrypt_1KiB", size), &size, |b, _| {
            b.iter(|| rt.block_on(group.encrypt(&data)).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("decrypt_1KiB", size), &size, |b, _| {
            b.iter(|| {
                rt.block_on(loaded.decrypt(&message, &alice_card, None))
                    .unwrap()
            })
        });
    }
    g.finish();
}

/// Bytes of ticket blob per participant for a 1000-participant epoch whose identities are
/// 10 characters long (as in this benchmark).
fn ticket_bytes_per_participant(users: &[Tessera]) -> f64 {
    use tessera_format::{
        IdentityKeyPair, Recipient,
        group::{EpochKey, GroupId, seal_ticket_blob},
    };
    let keys: Vec<IdentityKeyPair> = (0..1000)
        .map(|_| IdentityKeyPair::generate().unwrap())
        .collect();
    let recipients: Vec<Recipient> = keys
        .iter()
        .map(|k| Recipient::from(k.public_keys()))
        .collect();
    let participants = users
        .iter()
        .take(1000)
        .map(|u| u.identity().clone())
        .collect();
    let epoch = EpochKey::generate(0, participants).unwrap();
    let group = GroupId::new("size-check").unwrap();
    let blob = seal_ticket_blob(&keys[0], &group, &epoch, &recipients, None).unwrap();
    blob.len() as f64 / 1000.0
}

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
    println!("\n== Tessera client: per-operation times (server in-process on loopback, SQLite) ==");
    let row = |label: &str, ns: f64| {
        if ns >= 1e6 {
            println!("{label:<40} {:>10.2} ms", ns / 1e6);
        } else {
            println!("{label:<40} {:>10.1} µs", ns / 1e3);
        }
    };
    row("register (search + publish)", f("client/register"));
    for n in LOOKUP_SIZES {
        row(
            &format!("find_users ({n}, verified)"),
            f(&format!("client/find_users/{n}")),
        );
        row(
            &format!("find_cached_users ({n})"),
            f(&format!("client/find_cached_users/{n}")),
        );
    }
    row(
        "update_cached_users (1000 cached)",
        f("client/update_cached_users/1000"),
    );
    for n in RECIPIENT_COUNTS {
        row(
            &format!("auth_encrypt 1 KiB → {n} (+ self)"),
            f(&format!("client/auth_encrypt_1KiB/{n}")),
        );
    }
    row("auth_decrypt 1 KiB", f("client/auth_decrypt_1KiB"));
    row("safety_number", f("client/safety_number"));
    let mb = STREAM_BYTES as f64 / 1e6;
    for op in ["encrypt_stream_10MiB", "decrypt_stream_10MiB"] {
        let ns = f(&format!("client/{op}"));
        println!("{op:<40} {:>10.0} MB/s", mb / (ns / 1e9));
    }
    row(
        "backup_private_key (Argon2id + PUT)",
        f("client/backup_private_key"),
    );
    row(
        "restore_private_key (GET + Argon2id + search)",
        f("client/restore_private_key"),
    );
    row("derive_passwords (Argon2id)", f("client/derive_passwords"));
    row(
        "create_group 1000 (cards cached)",
        f("groups/create_1000_cached_cards"),
    );
    row(
        "create_group 1000 (with find_users)",
        f("groups/create_1000_with_lookup"),
    );
    for size in [3, 1000] {
        row(
            &format!("group encrypt 1 KiB ({size} participants)"),
            f(&format!("groups/encrypt_1KiB/{size}")),
        );
        row(
            &format!("group decrypt 1 KiB ({size} participants)"),
            f(&format!("groups/decrypt_1KiB/{size}")),
        );
    }
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let ticket_size = client_operations(&mut c);
    c.final_summary();
    report();
    println!(
        "{:<40} {ticket_size:>10.1} B",
        "group ticket per participant (1000)"
    );
}
