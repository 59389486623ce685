//! Load benchmark of tessera-server (run by scripts/bench-server; not a test).
//!
//! Starts the real `tessera-server` binary on SQLite and on PostgreSQL (a fresh database
//! on the server named by `TESSERA_TEST_POSTGRES_URL`), and a bare axum "hello" server as
//! the ceiling, each as its own process on 127.0.0.1, then drives them from this process
//! with keep-alive HTTP/1.1 connections and reports throughput and latency percentiles:
//!
//! - `hello`: GET /hello on the bare axum server (the ceiling), measured just before and
//!   just after `search 1` on each database; "vs hello" divides by their mean;
//! - `search 1`, `search 100`, `search 1000`: POST /v1/cards/search with that many
//!   identities, all of which have an active card;
//! - `search 1000 @1`: the 1000-identity batch on one connection (unloaded latency);
//! - `publish`: POST /v1/cards, each a new identity's first card.
//!
//! Search scenarios are measured warm: after a warm-up that lasts until a second passes
//! without a database read. Below the table, the server's own account of each search
//! scenario from its /metrics: the share of requests answered within each latency
//! bucket, and the search cache's hits, misses and bypasses.
//!
//! Every run is bounded in time and request count, and sends to loopback only.
//! Arguments: `--seconds N` per scenario (default 5), `--connections N` (default 64),
//! `--only sqlite|postgres`, `--database-connections N` (the server's pool; default: the
//! server's default), `--search-cache-capacity N` (PostgreSQL's search cache; 0 measures
//! the database path alone).

use std::{
    error::Error,
    net::SocketAddr,
    path::Path,
    process::Stdio,
    str::FromStr,
    sync::Arc,
    time::{Duration, Instant},
};

use http_body_util::{BodyExt, Full};
use hyper::{Request, body::Bytes};
use hyper_util::rt::TokioIo;
use serde_json::json;
use sqlx::Connection;
use tessera_format::{AppKey, Card, Identity, IdentityKeyPair, Timestamp};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    net::TcpStream,
    process::{Child, Command},
};

type BenchResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// Identities that get a card before the searches.
const DIRECTORY_SIZE: usize = 1000;
/// Most requests one scenario sends (a bound on top of the duration).
const MAX_REQUESTS_PER_SCENARIO: usize = 2_000_000;
/// Longest warm-up of a search scenario, in seconds.
const MAX_WARM_UP_SECONDS: usize = 10;
/// Most cards the publish scenario may use (pre-generated).
const MAX_PUBLISHES: usize = 20_000;

struct Options {
    seconds: u64,
    connections: usize,
    only: Option<String>,
    database_connections: Option<u32>,
    search_cache_capacity: Option<usize>,
}

fn parse_options() -> BenchResult<Options> {
    let mut options = Options {
        seconds: 5,
        connections: 64,
        only: None,
        database_connections: None,
        search_cache_capacity: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => options.seconds = args.next().ok_or("--seconds N")?.parse()?,
            "--connections" => {
                options.connections = args.next().ok_or("--connections N")?.parse()?
            }
            "--only" => options.only = Some(args.next().ok_or("--only sqlite|postgres")?),
            "--database-connections" => {
                options.database_connections =
                    Some(args.next().ok_or("--database-connections N")?.parse()?)
            }
            "--search-cache-capacity" => {
                options.search_cache_capacity =
                    Some(args.next().ok_or("--search-cache-capacity N")?.parse()?)
            }
            // cargo bench passes --bench; anything else is ignored like criterion does.
            _ => {}
        }
    }
    Ok(options)
}

fn main() -> BenchResult<()> {
    if std::env::args().nth(1).as_deref() == Some("hello-server") {
        return hello_server();
    }
    let options = parse_options()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(options))
}

/// The ceiling: a bare axum app with one route, served the way tessera-server serves.
fn hello_server() -> BenchResult<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let app = axum::Router::new().route("/hello", axum::routing::get(|| async { "hello" }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("hello listening on http://{}", listener.local_addr()?);
        axum::serve(listener, app).await?;
        Ok(())
    })
}

/// A child process that prints `... listening on http://ADDR` first.
struct Process {
    child: Child,
    address: SocketAddr,
}

impl Process {
    async fn start(mut command: Command) -> BenchResult<Self> {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await??
            .ok_or("the process exited before listening")?;
        let address = line
            .rsplit("http://")
            .next()
            .ok_or("no address in the first line")?
            .parse()?;
        Ok(Self { child, address })
    }

    async fn stop(mut self) -> BenchResult<()> {
        if let Some(pid) = self.child.id() {
            Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await?;
        }
        tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await??;
        Ok(())
    }
}

/// What a scenario sends on each connection.
type RequestFactory = Arc<dyn Fn(usize, usize) -> Option<Request<Full<Bytes>>> + Send + Sync>;

struct Measurement {
    name: String,
    database: &'static str,
    connections: usize,
    requests: usize,
    errors: usize,
    seconds: f64,
    latencies_us: Vec<u64>,
    /// Throughput of the hello ceiling measured around this database's scenarios.
    ceiling_per_second: f64,
    /// The server's own view of this scenario (empty when not taken).
    server: ServerMetrics,
}

impl Measurement {
    fn throughput(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    fn percentile_ms(&self, fraction: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let index = ((self.latencies_us.len() as f64 - 1.0) * fraction).round() as usize;
        self.latencies_us
            .get(index)
            .map_or(f64::NAN, |us| *us as f64 / 1000.0)
    }
}

/// Drives `connections` keep-alive connections for `duration`; `make(connection, n)`
/// builds the n-th request of a connection (None: that connection is done).
async fn measure(
    name: &str,
    database: &'static str,
    address: SocketAddr,
    connections: usize,
    duration: Duration,
    expected_status: u16,
    make: RequestFactory,
) -> BenchResult<Measurement> {
    let started = Instant::now();
    let deadline = started + duration;
    let per_connection_cap = MAX_REQUESTS_PER_SCENARIO / connections.max(1);
    let mut tasks = Vec::with_capacity(connections);
    for connection in 0..connections {
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let stream = TcpStream::connect(address).await?;
            stream.set_nodelay(true)?;
            let (mut sender, driver) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(driver);
            let mut latencies = Vec::with_capacity(4096);
            let mut errors = 0usize;
            for n in 0..per_connection_cap {
                if Instant::now() >= deadline {
                    break;
                }
                let Some(request) = make(connection, n) else {
                    break;
                };
                let sent = Instant::now();
                sender.ready().await?;
                let response = sender.send_request(request).await?;
                let status = response.status().as_u16();
                response.into_body().collect().await?;
                latencies.push(sent.elapsed().as_micros() as u64);
                if status != expected_status {
                    errors += 1;
                }
            }
            BenchResult::Ok((latencies, errors))
        }));
    }
    let mut latencies_us = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (latencies, task_errors) = task.await??;
        latencies_us.extend(latencies);
        errors += task_errors;
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies_us.sort_unstable();
    Ok(Measurement {
        name: name.to_owned(),
        database,
        connections,
        requests: latencies_us.len(),
        errors,
        seconds,
        latencies_us,
        ceiling_per_second: f64::NAN,
        server: ServerMetrics::default(),
    })
}

/// What the server's /metrics says of POST `route`: the cumulative buckets of its
/// request-duration histogram, and the search cache's lookups by result.
async fn server_metrics(address: SocketAddr, route: &str) -> BenchResult<ServerMetrics> {
    let stream = TcpStream::connect(address).await?;
    let (mut sender, driver) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(driver);
    let request = Request::get("/metrics")
        .header("host", address.to_string())
        .body(Full::new(Bytes::new()))?;
    let body = sender
        .send_request(request)
        .await?
        .into_body()
        .collect()
        .await?;
    let text = String::from_utf8(body.to_bytes().to_vec())?;
    let prefix = format!(
        "tessera_http_request_duration_seconds_bucket{{route=\"{route}\",method=\"POST\",le=\""
    );
    let buckets = text
        .lines()
        .filter_map(|line| line.strip_prefix(&prefix))
        .filter_map(|rest| {
            let (bound, count) = rest.split_once("\"} ")?;
            let bound = if bound == "+Inf" {
                f64::INFINITY
            } else {
                bound.parse().ok()?
            };
            Some((bound, count.trim().parse().ok()?))
        })
        .collect();
    let lookups = ["hit", "miss", "bypass"].map(|result| {
        let prefix = format!("tessera_search_cache_lookups_total{{result=\"{result}\"}} ");
        text.lines()
            .find_map(|line| line.strip_prefix(&prefix)?.trim().parse().ok())
            .unwrap_or(0)
    });
    Ok(ServerMetrics { buckets, lookups })
}

/// See [`server_metrics`].
#[derive(Default)]
struct ServerMetrics {
    buckets: Vec<(f64, u64)>,
    /// Hits, misses, bypasses.
    lookups: [u64; 3],
}

impl ServerMetrics {
    /// What happened between `earlier` and `self`.
    fn since(&self, earlier: &Self) -> Self {
        Self {
            buckets: self
                .buckets
                .iter()
                .zip(&earlier.buckets)
                .map(|((bound, now), (_, then))| (*bound, now.saturating_sub(*then)))
                .collect(),
            lookups: std::array::from_fn(|i| {
                let (now, then) = (self.lookups.get(i), earlier.lookups.get(i));
                now.zip(then)
                    .map_or(0, |(now, then)| now.saturating_sub(*then))
            }),
        }
    }
}

fn json_request(
    address: SocketAddr,
    path: &str,
    token: &str,
    body: &serde_json::Value,
) -> Option<Request<Full<Bytes>>> {
    Request::post(path)
        .header("host", address.to_string())
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .ok()
}

async fn create_postgres_database(admin_url: &str) -> BenchResult<String> {
    let mut random = [0u8; 6];
    getrandom::fill(&mut random).map_err(|e| e.to_string())?;
    let name: String = std::iter::once("tessera_bench_".to_owned())
        .chain(random.iter().map(|b| format!("{b:02x}")))
        .collect();
    let options = sqlx::postgres::PgConnectOptions::from_str(admin_url)?;
    let mut admin = sqlx::PgConnection::connect_with(&options).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    let base = admin_url.split('?').next().unwrap_or(admin_url);
    let (server, _) = base.rsplit_once('/').ok_or("database URL without a path")?;
    Ok(format!("{server}/{name}"))
}

fn new_card(identity: &str) -> BenchResult<Card> {
    Ok(Card::create(
        &IdentityKeyPair::generate()?,
        Identity::new(identity)?,
        Timestamp::now(),
        None,
    )?)
}

/// One unreported second of load (connections, statement and token caches warm up).
async fn warm_up_second(
    name: &str,
    database: &'static str,
    address: SocketAddr,
    connections: usize,
    make: &RequestFactory,
) -> BenchResult<()> {
    let second = Duration::from_secs(1);
    measure(
        name,
        database,
        address,
        connections,
        second,
        200,
        make.clone(),
    )
    .await?;
    Ok(())
}

/// The bare axum ceiling, measured for `duration` after a one-second warm-up.
async fn measure_hello(
    name: &str,
    database: &'static str,
    address: SocketAddr,
    connections: usize,
    duration: Duration,
) -> BenchResult<Measurement> {
    let make: RequestFactory = Arc::new(move |_, _| {
        Request::get("/hello")
            .header("host", address.to_string())
            .body(Full::new(Bytes::new()))
            .ok()
    });
    warm_up_second(name, database, address, connections, &make).await?;
    let measured = measure(name, database, address, connections, duration, 200, make).await?;
    check_results(&measured)?;
    Ok(measured)
}

/// Runs every server scenario against one database, measuring the hello ceiling just
/// before and just after the single-identity search (the machine's load drifts; the
/// ratio compares like with like).
async fn bench_database(
    database: &'static str,
    database_url: Option<String>,
    hello_address: SocketAddr,
    options: &Options,
    all_results: &mut Vec<Measurement>,
) -> BenchResult<()> {
    let mut section = Vec::new();
    let results = &mut section;
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let binary = env!("CARGO_BIN_EXE_tessera-server");
    let init = Command::new(binary)
        .args(["init", "--data-dir"])
        .arg(&data)
        .stdout(Stdio::null())
        .status()
        .await?;
    if !init.success() {
        return Err("tessera-server init failed".into());
    }
    let mut command = Command::new(binary);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .env("TESSERA_LOG", "warn")
        // Limits stay on (their cost is part of every request) but far above this load.
        .env("TESSERA_IDENTITY_REQUESTS_PER_SECOND", "10000000")
        .env("TESSERA_IDENTITY_BURST", "10000000")
        .env("TESSERA_ADDRESS_REQUESTS_PER_SECOND", "10000000")
        .env("TESSERA_ADDRESS_BURST", "10000000");
    if let Some(connections) = options.database_connections {
        command.env("TESSERA_DATABASE_MAX_CONNECTIONS", connections.to_string());
    }
    if let Some(capacity) = options.search_cache_capacity {
        command.env("TESSERA_SEARCH_CACHE_CAPACITY", capacity.to_string());
    }
    if let Some(url) = &database_url {
        command.env("TESSERA_DATABASE_URL", url);
    }
    let server = Process::start(command).await?;
    let address = server.address;
    let app_key = read_key(&data)?;
    let (app_id, audience) = read_issuer_and_audience(&data)?;
    let token = |identity: &str| -> BenchResult<String> {
        Ok(app_key.mint(
            &app_id,
            &audience,
            &Identity::new(identity)?,
            Timestamp::now(),
            3600,
        ))
    };
    let connections = options.connections;
    let duration = Duration::from_secs(options.seconds);
    let client_tokens: Arc<Vec<String>> = Arc::new(
        (0..connections)
            .map(|c| token(&format!("bench-client-{c}")))
            .collect::<BenchResult<_>>()?,
    );

    // The directory: DIRECTORY_SIZE identities with an active card (not measured).
    let mut seed_cards = Vec::with_capacity(DIRECTORY_SIZE);
    for i in 0..DIRECTORY_SIZE {
        let identity = format!("user{i}");
        let card = new_card(&identity)?;
        seed_cards.push(json_request(
            address,
            "/v1/cards",
            &token(&identity)?,
            &json!({ "card": card.to_wire() }),
        ));
    }
    let seed_cards = Arc::new(std::sync::Mutex::new(seed_cards));
    let seeding = measure(
        "seed",
        database,
        address,
        connections,
        Duration::from_secs(300),
        201,
        {
            let seed_cards = seed_cards.clone();
            Arc::new(move |_, _| seed_cards.lock().ok()?.pop().flatten())
        },
    )
    .await?;
    if seeding.errors > 0 || seeding.requests != DIRECTORY_SIZE {
        return Err(format!("seeding the directory failed ({} errors)", seeding.errors).into());
    }

    for (label, batch) in [
        ("search 1", 1usize),
        ("search 100", 100),
        ("search 1000", 1000),
    ] {
        let tokens = client_tokens.clone();
        let make: RequestFactory = Arc::new(move |connection, n| {
            let start = (connection * 7919 + n * 104_729) % DIRECTORY_SIZE;
            let identities: Vec<String> = (0..batch)
                .map(|k| format!("user{}", (start + k) % DIRECTORY_SIZE))
                .collect();
            json_request(
                address,
                "/v1/cards/search",
                tokens.get(connection)?,
                &json!({ "identities": identities }),
            )
        });
        // Warm-up (connections, statement caches, token cache, search cache), not
        // reported: repeated until a second passes without a database read (both
        // databases' search caches fill on reads).
        let mut database_reads = 0;
        for second in 1..=MAX_WARM_UP_SECONDS {
            let before = server_metrics(address, "/v1/cards/search").await?;
            warm_up_second(label, database, address, connections, &make).await?;
            let [_, misses, bypassed] = server_metrics(address, "/v1/cards/search")
                .await?
                .since(&before)
                .lookups;
            database_reads += misses + bypassed;
            if misses + bypassed == 0 {
                println!(
                    "{database} {label}: warm after {second} s of warm-up ({database_reads} identities read from the database)"
                );
                break;
            }
        }
        if batch == 1 {
            results.push(
                measure_hello(
                    "hello (before)",
                    database,
                    hello_address,
                    connections,
                    duration,
                )
                .await?,
            );
        }
        let before = server_metrics(address, "/v1/cards/search").await?;
        let mut measured =
            measure(label, database, address, connections, duration, 200, make).await?;
        check_results(&measured)?;
        measured.server = server_metrics(address, "/v1/cards/search")
            .await?
            .since(&before);
        results.push(measured);
        if batch == 1 {
            results.push(
                measure_hello(
                    "hello (after)",
                    database,
                    hello_address,
                    connections,
                    duration,
                )
                .await?,
            );
        }
    }
    {
        let tokens = client_tokens.clone();
        let make: RequestFactory = Arc::new(move |_, n| {
            let identities: Vec<String> = (0..1000)
                .map(|k| format!("user{}", (n * 31 + k) % DIRECTORY_SIZE))
                .collect();
            json_request(
                address,
                "/v1/cards/search",
                tokens.first()?,
                &json!({ "identities": identities }),
            )
        });
        let measured = measure("search 1000 @1", database, address, 1, duration, 200, make).await?;
        check_results(&measured)?;
        results.push(measured);
    }

    // Publish: every request a new identity's first card, pre-generated.
    let per_connection = MAX_PUBLISHES / connections.max(1);
    let mut publishes: Vec<Vec<Option<Request<Full<Bytes>>>>> = Vec::with_capacity(connections);
    for connection in 0..connections {
        let mut queue = Vec::with_capacity(per_connection);
        for n in 0..per_connection {
            let identity = format!("new-{connection}-{n}");
            let card = new_card(&identity)?;
            queue.push(json_request(
                address,
                "/v1/cards",
                &token(&identity)?,
                &json!({ "card": card.to_wire() }),
            ));
        }
        queue.reverse();
        publishes.push(queue);
    }
    let publishes = Arc::new(
        publishes
            .into_iter()
            .map(std::sync::Mutex::new)
            .collect::<Vec<_>>(),
    );
    let make: RequestFactory =
        Arc::new(move |connection, _| publishes.get(connection)?.lock().ok()?.pop().flatten());
    let measured = measure(
        "publish",
        database,
        address,
        connections,
        duration,
        201,
        make,
    )
    .await?;
    check_results(&measured)?;
    results.push(measured);

    server.stop().await?;
    let hellos: Vec<f64> = section
        .iter()
        .filter(|m| m.name.starts_with("hello"))
        .map(Measurement::throughput)
        .collect();
    let ceiling = hellos.iter().sum::<f64>() / hellos.len().max(1) as f64;
    for mut measurement in section {
        measurement.ceiling_per_second = ceiling;
        all_results.push(measurement);
    }
    Ok(())
}

/// Every request of a measured scenario must have succeeded.
fn check_results(measurement: &Measurement) -> BenchResult<()> {
    if measurement.errors > 0 {
        return Err(format!(
            "{} on {}: {} requests failed",
            measurement.name, measurement.database, measurement.errors
        )
        .into());
    }
    Ok(())
}

fn read_key(data: &Path) -> BenchResult<AppKey> {
    Ok(tessera_server::data_dir::read_app_key(
        &data.join("app-key.secret"),
    )?)
}

/// The app id and audience of the data directory's configuration.
fn read_issuer_and_audience(data: &Path) -> BenchResult<(String, String)> {
    let config = tessera_server::Config::load(data, |_| None)?;
    Ok((config.app_id, config.audience))
}

async fn run(options: Options) -> BenchResult<()> {
    let mut results = Vec::new();
    let hello = Process::start({
        let mut command = Command::new(std::env::current_exe()?);
        command.arg("hello-server");
        command
    })
    .await?;
    let hello_address = hello.address;

    if options.only.as_deref() != Some("postgres") {
        bench_database("sqlite", None, hello_address, &options, &mut results).await?;
    }
    if options.only.as_deref() != Some("sqlite") {
        let admin_url = std::env::var("TESSERA_TEST_POSTGRES_URL").map_err(
            |_| "TESSERA_TEST_POSTGRES_URL is not set; scripts/bench-server starts a PostgreSQL",
        )?;
        let url = create_postgres_database(&admin_url).await?;
        bench_database("postgres", Some(url), hello_address, &options, &mut results).await?;
    }
    hello.stop().await?;

    println!();
    println!(
        "{:<20} {:<9} {:>5} {:>9} {:>12} {:>8} {:>8} {:>8} {:>9}",
        "scenario",
        "database",
        "conns",
        "requests",
        "requests/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "vs hello"
    );
    for m in &results {
        println!(
            "{:<20} {:<9} {:>5} {:>9} {:>12.0} {:>8.2} {:>8.2} {:>8.2} {:>8.1}%",
            m.name,
            m.database,
            m.connections,
            m.requests,
            m.throughput(),
            m.percentile_ms(0.50),
            m.percentile_ms(0.99),
            m.percentile_ms(1.0),
            100.0 * m.throughput() / m.ceiling_per_second
        );
    }
    println!();
    for m in results.iter().filter(|m| m.name == "search 1") {
        let ratio = m.throughput() / m.ceiling_per_second;
        println!(
            "target {}: single-identity search {:.0}% of hello (>= 40%: {}), p99 {:.2} ms (< 10 ms: {})",
            m.database,
            100.0 * ratio,
            verdict(ratio >= 0.40),
            m.percentile_ms(0.99),
            verdict(m.percentile_ms(0.99) < 10.0)
        );
    }
    for m in results.iter().filter(|m| !m.server.buckets.is_empty()) {
        let total = m
            .server
            .buckets
            .last()
            .map_or(0, |(_, count)| *count)
            .max(1);
        let shares: Vec<String> = m
            .server
            .buckets
            .iter()
            .filter(|(bound, _)| *bound <= 0.05)
            .map(|(bound, count)| {
                format!(
                    "<= {} ms {:.2}%",
                    bound * 1000.0,
                    100.0 * *count as f64 / total as f64
                )
            })
            .collect();
        let [hits, misses, bypassed] = m.server.lookups;
        println!(
            "server side, {} {}: answered {}; cache hits {hits}, misses {misses}, bypassed {bypassed}",
            m.database,
            m.name,
            shares.join(", ")
        );
    }
    for m in results.iter().filter(|m| m.name == "search 1000 @1") {
        println!(
            "target {}: 1000-identity batch p50 {:.2} ms, p99 {:.2} ms (< 25 ms: {})",
            m.database,
            m.percentile_ms(0.50),
            m.percentile_ms(0.99),
            verdict(m.percentile_ms(0.99) < 25.0)
        );
    }
    Ok(())
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}
