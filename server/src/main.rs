//! The `tessera-server` command: `init`, `serve`, `token` (docs/SERVER.md).
#![forbid(unsafe_code)]

use std::{
    io::{IsTerminal, Write},
    net::SocketAddr,
    path::PathBuf,
    process::ExitCode,
    time::Duration,
};

use clap::{Parser, Subcommand};
use tessera_format::{Identity, Timestamp, jwt::app_key_id};
use tessera_server::{
    Config,
    config::ConfigError,
    data_dir,
    server::{self, StartError},
};
use tracing_subscriber::EnvFilter;

/// Tessera's self-hostable server: card directory, key backups, group tickets.
#[derive(Parser)]
#[command(name = "tessera-server", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Creates a data directory: config file, app id and app key pair.
    Init {
        /// Where to create it.
        #[arg(long, env = "TESSERA_DATA_DIR", default_value = "./tessera-data")]
        data_dir: PathBuf,
    },
    /// Runs the API until SIGTERM or SIGINT.
    Serve {
        /// The data directory (config.toml, and the SQLite file by default).
        #[arg(long, env = "TESSERA_DATA_DIR", default_value = "./tessera-data")]
        data_dir: PathBuf,
        /// Address and port to listen on (overrides TESSERA_LISTEN and config.toml).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Demo mode (also TESSERA_DEMO=true): adds /demo/login, which gives anyone a token
        /// for any identity, a message relay and the web chat. INSECURE: never in production.
        #[arg(long)]
        demo: bool,
        /// In demo mode, serve the web chat from this directory (also TESSERA_DEMO_WEB_DIR).
        #[arg(long, value_name = "DIR")]
        demo_web: Option<PathBuf>,
        /// Let demo mode listen on an address other than loopback (also
        /// TESSERA_DEMO_PUBLIC=true): anyone who reaches it can sign in as anyone.
        #[arg(long)]
        demo_public: bool,
    },
    /// Mints a development token with the data directory's app key, for this server's
    /// audience.
    Token {
        /// The identity the token proves (its subject).
        #[arg(long)]
        identity: String,
        /// Lifetime: a number with s, m, h or d (e.g. 20m, 12h).
        #[arg(long, default_value = "20m")]
        ttl: String,
        /// The data directory holding the app key.
        #[arg(long, env = "TESSERA_DATA_DIR", default_value = "./tessera-data")]
        data_dir: PathBuf,
    },
}

/// Why a command failed; printed as one line on stderr.
#[derive(Debug, thiserror::Error)]
enum CommandError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("{0}")]
    Usage(String),
    #[error("server stopped with an error: {0}")]
    Io(#[from] std::io::Error),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Init { data_dir } => init(&data_dir),
        Command::Serve {
            data_dir,
            listen,
            demo,
            demo_web,
            demo_public,
        } => serve(&data_dir, listen, demo, demo_web, demo_public),
        Command::Token {
            identity,
            ttl,
            data_dir,
        } => token(&data_dir, &identity, &ttl),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tessera-server: {error}");
            ExitCode::FAILURE
        }
    }
}

fn init(dir: &std::path::Path) -> Result<(), CommandError> {
    let created = data_dir::init(dir)?;
    let dir_text = dir.display();
    println!("Initialized {dir_text}");
    println!("  app id:          {}", created.app_id);
    println!("  audience:        {}", created.audience);
    println!("  app public key:  {}", created.app_public_key.to_text());
    println!(
        "  app key id:      {}",
        app_key_id(&created.app_public_key.0)
    );
    println!(
        "  private key:     {} (mode 0600: give it to your app backend only)",
        created.private_key_path.display()
    );
    println!("  config:          {}", created.config_path.display());
    println!();
    println!("Start the server:");
    println!("  tessera-server serve --data-dir {dir_text}");
    println!("Mint a development token:");
    println!("  tessera-server token --identity alice --data-dir {dir_text}");
    println!(
        "Your app backend mints tokens with the app key: an EdDSA JWT with header \
         {{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"kid\":\"<app key id>\"}} and claims \
         iss=<app id>, sub=<identity>, aud=<audience>, iat, exp (tessera_format::AppKey::mint \
         in Rust, AppKey.mint in the npm package)."
    );
    Ok(())
}

fn init_logging() {
    let filter = EnvFilter::try_from_env("TESSERA_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if std::env::var("TESSERA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn serve(
    dir: &std::path::Path,
    listen: Option<SocketAddr>,
    demo: bool,
    demo_web: Option<PathBuf>,
    demo_public: bool,
) -> Result<(), CommandError> {
    init_logging();
    let mut config = Config::load(dir, |name| std::env::var(name).ok())?;
    if let Some(listen) = listen {
        config.listen = listen;
    }
    config.demo |= demo;
    config.demo_public |= demo_public;
    if demo_web.is_some() {
        config.demo_web_dir = demo_web;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let (listener, state) = server::prepare(&config).await?;
        let address = listener.local_addr()?;
        tracing::info!(
            %address,
            database = database_kind(&config.database_url),
            app_keys = config.app_public_keys.len(),
            demo = config.demo,
            "listening"
        );
        // Scripts and tests read this line to learn the port when listening on port 0.
        println!("tessera-server listening on http://{address}");
        std::io::stdout().flush()?;
        server::serve(
            listener,
            state,
            server::termination_signal(),
            Duration::from_secs(config.shutdown_grace_seconds),
        )
        .await?;
        Ok(())
    })
}

/// The database kind, for the log: never the URL, which may hold a password.
fn database_kind(url: &str) -> &'static str {
    if url.starts_with("sqlite:") {
        "sqlite"
    } else {
        "postgres"
    }
}

fn parse_ttl(text: &str) -> Result<u64, CommandError> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, "s"),
    };
    let multiplier = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(CommandError::Usage(format!(
                "--ttl {text:?}: use e.g. 90s, 20m, 12h, 1d"
            )));
        }
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .filter(|seconds| *seconds > 0)
        .ok_or_else(|| CommandError::Usage(format!("--ttl {text:?}: use e.g. 90s, 20m, 12h, 1d")))
}

fn token(dir: &std::path::Path, identity: &str, ttl: &str) -> Result<(), CommandError> {
    let config = Config::load(dir, |name| std::env::var(name).ok())?;
    let ttl = parse_ttl(ttl)?;
    if ttl > config.token_max_lifetime_seconds {
        return Err(CommandError::Usage(format!(
            "--ttl is longer than the server accepts ({} s, token_max_lifetime_seconds)",
            config.token_max_lifetime_seconds
        )));
    }
    let identity =
        Identity::new(identity).map_err(|e| CommandError::Usage(format!("--identity: {e}")))?;
    let key = data_dir::read_app_key(&config.app_private_key_file)?;
    let token = key.mint(
        &config.app_id,
        &config.audience,
        &identity,
        Timestamp::now(),
        ttl,
    );
    println!("{token}");
    Ok(())
}
