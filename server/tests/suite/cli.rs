//! The `tessera-server` binary: init, token, serve; graceful shutdown on SIGTERM; logs
//! free of secrets.

use std::{
    path::Path,
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::json;
use tessera_format::{Timestamp, TokenError, TokenVerifier, jwt::read_claims_unverified};
use tessera_server::{Config, data_dir::read_app_key};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    process::{Child, Command},
};

use crate::harness::{Reply, b64, card, send};

pub(crate) const BINARY: &str = env!("CARGO_BIN_EXE_tessera-server");

/// A temporary directory holding a data directory made by `tessera-server init`; the
/// directory is removed when the returned handle drops.
pub(crate) fn initialized_data_dir() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert!(
        run(&["init", "--data-dir", data.to_str().unwrap()], &[])
            .status
            .success()
    );
    (dir, data)
}

/// Runs the binary to completion with only the given environment.
pub(crate) fn run(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    std::process::Command::new(BINARY)
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// A `tessera-server serve` process on a random port.
pub(crate) struct ServerProcess {
    pub(crate) child: Child,
    pub(crate) base: String,
    pub(crate) stderr: Arc<Mutex<String>>,
}

/// `POST /demo/login` for `identity` on the server at `base`.
async fn demo_login(client: &reqwest::Client, base: &str, identity: &str) -> Reply {
    send(
        client
            .post(format!("{base}/demo/login"))
            .json(&json!({ "identity": identity })),
    )
    .await
}

impl ServerProcess {
    pub(crate) async fn start(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        Self::start_with_args(data_dir, &[], env).await
    }

    /// `serve` with further arguments (e.g. `--demo`).
    pub(crate) async fn start_with_args(
        data_dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        Self::start_listening(data_dir, "127.0.0.1:0", args, env).await
    }

    /// `serve --listen LISTEN` with further arguments.
    pub(crate) async fn start_listening(
        data_dir: &Path,
        listen: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let mut child = Command::new(BINARY)
            .args(["serve", "--data-dir"])
            .arg(data_dir)
            .args(["--listen", listen])
            .args(args)
            .env_clear()
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut stderr_lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let collected = stderr.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = stderr_lines.next_line().await {
                let mut all = collected.lock().unwrap();
                all.push_str(&line);
                all.push('\n');
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), stdout.next_line())
            .await
            .expect("the server did not start within 30 s")
            .unwrap()
            .unwrap_or_else(|| panic!("the server exited: {}", stderr.lock().unwrap()));
        let base = line
            .strip_prefix("tessera-server listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .to_owned();
        Self {
            child,
            base,
            stderr,
        }
    }

    pub(crate) fn address(&self) -> String {
        self.base.strip_prefix("http://").unwrap().to_owned()
    }

    /// Sends SIGTERM.
    pub(crate) fn terminate(&self) {
        let pid = self.child.id().unwrap().to_string();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit and returns whether it succeeded.
    pub(crate) async fn wait(&mut self) -> bool {
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("the server did not exit within 30 s")
            .unwrap()
            .success()
    }
}

/// The app id and a token for `identity` from a data directory.
pub(crate) fn token_for(data_dir: &Path, identity: &str) -> String {
    let config = Config::load(data_dir, |_| None).unwrap();
    let key = read_app_key(&config.app_private_key_file).unwrap();
    key.mint(
        &config.app_id,
        &config.audience,
        &tessera_format::Identity::new(identity).unwrap(),
        Timestamp::now(),
        1200,
    )
}

pub(crate) async fn init_token_and_serve() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_text = data.to_str().unwrap();

    let init = run(&["init", "--data-dir", data_text], &[]);
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let printed = String::from_utf8(init.stdout).unwrap();
    let config = Config::load(&data, |_| None).unwrap();
    assert!(printed.contains(&config.app_public_keys[0].to_text()));
    assert_eq!(config.audience, format!("tessera:{}", config.app_id));
    assert!(printed.contains(&format!("audience:        {}", config.audience)));
    assert!(
        std::fs::read_to_string(data.join("config.toml"))
            .unwrap()
            .contains(&format!("audience = \"{}\"", config.audience)),
        "init writes the audience"
    );
    assert!(printed.contains("tessera-server token --identity"));
    let mode = |name: &str| {
        std::fs::metadata(data.join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("app-key.secret"), 0o600);
    assert_eq!(mode("config.toml") & 0o077, 0);
    let seed_text = std::fs::read_to_string(data.join("app-key.secret")).unwrap();
    assert!(
        !printed.contains(seed_text.trim()),
        "init must not print the private key"
    );

    let again = run(&["init", "--data-dir", data_text], &[]);
    assert!(!again.status.success(), "init must not overwrite keys");
    assert_eq!(
        std::fs::read_to_string(data.join("app-key.secret")).unwrap(),
        seed_text
    );

    let minted = run(
        &[
            "token",
            "--identity",
            "alice",
            "--ttl",
            "5m",
            "--data-dir",
            data_text,
        ],
        &[],
    );
    assert!(
        minted.status.success(),
        "{}",
        String::from_utf8_lossy(&minted.stderr)
    );
    let stdout = String::from_utf8(minted.stdout).unwrap();
    let token = stdout.lines().last().unwrap().trim().to_owned();
    let verifier = TokenVerifier::new(config.app_id.clone(), config.audience.clone())
        .with_key(&config.app_public_keys[0].0)
        .unwrap();
    let claims = verifier.verify(&token, Timestamp::now()).unwrap();
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.exp - claims.iat, 300);
    // Through the environment variable as well.
    let via_env = run(
        &["token", "--identity", "bob"],
        &[("TESSERA_DATA_DIR", data_text)],
    );
    assert!(via_env.status.success());
    for bad in [
        vec![
            "token",
            "--identity",
            "alice",
            "--ttl",
            "soon",
            "--data-dir",
            data_text,
        ],
        vec![
            "token",
            "--identity",
            "alice",
            "--ttl",
            "3d",
            "--data-dir",
            data_text,
        ],
        vec!["token", "--identity", "a b", "--data-dir", data_text],
        vec!["token", "--identity", "alice", "--data-dir", "/nonexistent"],
    ] {
        let output = run(&bad, &[]);
        assert!(!output.status.success(), "{bad:?} should fail");
        assert!(!output.stderr.is_empty());
    }

    let mut server = ServerProcess::start(&data, &[]).await;
    let client = reqwest::Client::new();
    let reply = send(
        client
            .put(format!("{}/v1/backups/cli", server.base))
            .bearer_auth(&token)
            .json(&json!({ "blob": b64(b"from the cli token") })),
    )
    .await;
    reply.expect(201, "");
    assert!(
        data.join("tessera.db").exists(),
        "SQLite lives in the data directory"
    );
    server.terminate();
    assert!(server.wait().await, "clean exit after SIGTERM");
}

pub(crate) async fn sigterm_finishes_in_flight_requests() {
    let (_dir, data) = initialized_data_dir();
    let mut server = ServerProcess::start(&data, &[]).await;
    let token = token_for(&data, "alice");

    // A request whose body is still arriving when SIGTERM comes.
    let body = json!({ "blob": b64(&[9u8; 4000]) }).to_string();
    let (first_half, second_half) = body.split_at(body.len() / 2);
    let mut stream = tokio::net::TcpStream::connect(server.address())
        .await
        .unwrap();
    let head = format!(
        "PUT /v1/backups/in-flight HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(first_half.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.terminate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // New connections are no longer accepted...
    assert!(
        tokio::net::TcpStream::connect(server.address())
            .await
            .is_err(),
        "the listener closes on SIGTERM"
    );
    // ...but the request in flight completes.
    stream.write_all(second_half.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert!(server.wait().await, "clean exit after SIGTERM");

    let mut restarted = ServerProcess::start(&data, &[]).await;
    let reply = send(
        reqwest::Client::new()
            .get(format!("{}/v1/backups/in-flight", restarted.base))
            .bearer_auth(&token),
    )
    .await;
    reply.expect(200, "");
    restarted.terminate();
    assert!(restarted.wait().await);
}

pub(crate) async fn logs_never_contain_secrets() {
    let (_dir, data) = initialized_data_dir();
    let mut server = ServerProcess::start(
        &data,
        &[("TESSERA_LOG", "trace"), ("TESSERA_LOG_FORMAT", "json")],
    )
    .await;
    let identity = "secret-identity-4711";
    let token = token_for(&data, identity);
    let client = reqwest::Client::new();
    let card = card(identity, 77, None);
    let blob = b64(b"super secret backup payload");
    let ticket = b64(b"super secret group ticket");
    send(
        client
            .post(format!("{}/v1/cards", server.base))
            .bearer_auth(&token)
            .json(&json!({ "card": card.to_wire() })),
    )
    .await
    .expect(201, "");
    send(
        client
            .put(format!("{}/v1/backups/b", server.base))
            .bearer_auth(&token)
            .json(&json!({ "blob": blob })),
    )
    .await
    .expect(201, "");
    send(
        client
            .put(format!("{}/v1/groups/g/tickets/0", server.base))
            .bearer_auth(&token)
            .json(&json!({ "participants": [identity], "ticket": ticket })),
    )
    .await
    .expect(201, "");
    let tampered = format!("{token}x");
    send(
        client
            .get(format!("{}/v1/backups/b", server.base))
            .bearer_auth(&tampered),
    )
    .await
    .expect(401, "unauthorized");
    server.terminate();
    assert!(server.wait().await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let logs = server.stderr.lock().unwrap().clone();
    assert!(
        logs.contains("\"route\":\"/v1/backups/{name}\""),
        "request logs are written: {logs}"
    );
    let seed = std::fs::read_to_string(data.join("app-key.secret")).unwrap();
    let signature_part = token.rsplit('.').next().unwrap();
    for secret in [
        identity,
        signature_part,
        seed.trim(),
        blob.as_str(),
        ticket.as_str(),
        &b64(card.snapshot()),
        &b64(card.signature()),
    ] {
        assert!(
            !logs.contains(secret),
            "the log contains {secret:?}:\n{logs}"
        );
    }
}

/// `serve --demo` end to end: a fresh data directory, the demo login over HTTP, its token
/// on the /v1 API, a relayed message, the web chat with `--demo-web` (or the environment),
/// the start-up warning, and logs without tokens, identities or ciphertext. Demo mode
/// without the app private key refuses to start and says why.
pub(crate) async fn serve_demo_end_to_end() {
    let (dir, data) = initialized_data_dir();
    let web = dir.path().join("web");
    std::fs::create_dir_all(&web).unwrap();
    std::fs::write(
        web.join("index.html"),
        "<!doctype html><title>web chat</title>",
    )
    .unwrap();

    let mut server = ServerProcess::start_with_args(
        &data,
        &["--demo", "--demo-web", web.to_str().unwrap()],
        &[("TESSERA_LOG", "trace"), ("TESSERA_LOG_FORMAT", "json")],
    )
    .await;
    let client = reqwest::Client::new();
    let identity = "demo-identity-4711";
    let login = demo_login(&client, &server.base, identity).await;
    login.expect(200, "");
    let token = login.json["token"].as_str().unwrap().to_owned();
    let config = Config::load(&data, |_| None).unwrap();
    let claims = read_claims_unverified(&token).unwrap();
    assert_eq!(claims.sub, identity);
    assert_eq!(claims.exp - claims.iat, 1200);
    assert_eq!(
        TokenVerifier::new(config.app_id.clone(), config.audience.clone())
            .with_key(&config.app_public_keys[0].0)
            .unwrap()
            .verify(&token, Timestamp::now()),
        Err(TokenError::UnknownKey),
        "demo tokens are not signed with the data directory's app key"
    );
    send(
        client
            .post(format!("{}/v1/cards", server.base))
            .bearer_auth(&token)
            .json(&json!({ "card": card(identity, 78, None).to_wire() })),
    )
    .await
    .expect(201, "");
    let ciphertext = b64(b"demo ciphertext that must stay out of the log");
    let posted = send(
        client
            .post(format!("{}/demo/messages", server.base))
            .bearer_auth(&token)
            .json(&json!({
                "to": [identity],
                "conversation": "note-to-self",
                "kind": "text",
                "ciphertext": ciphertext,
            })),
    )
    .await;
    posted.expect(201, "");
    let listed = send(
        client
            .get(format!("{}/demo/messages", server.base))
            .bearer_auth(&token),
    )
    .await;
    listed.expect(200, "");
    assert_eq!(listed.json["messages"][0]["ciphertext"], ciphertext);
    let users = send(
        client
            .get(format!("{}/demo/users", server.base))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(users.json["identities"], json!([identity]));
    let page = client
        .get(format!("{}/", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("web chat"));
    server.terminate();
    assert!(server.wait().await, "clean exit after SIGTERM");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let logs = server.stderr.lock().unwrap().clone();
    assert!(logs.contains("DEMO MODE"), "the start-up warning: {logs}");
    assert!(logs.contains("\"level\":\"WARN\""), "{logs}");
    assert!(
        logs.contains("\"route\":\"/demo/messages\""),
        "request logs are written: {logs}"
    );
    let signature_part = token.rsplit('.').next().unwrap();
    for secret in [
        identity,
        signature_part,
        ciphertext.as_str(),
        "note-to-self",
    ] {
        assert!(
            !logs.contains(secret),
            "the log contains {secret:?}:\n{logs}"
        );
    }

    // The environment turns demo mode on as well; without a web directory `/` explains.
    let mut server = ServerProcess::start_with_args(&data, &[], &[("TESSERA_DEMO", "true")]).await;
    let page = client
        .get(format!("{}/", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("scripts/run"));
    demo_login(&client, &server.base, "bob")
        .await
        .expect(200, "");
    server.terminate();
    assert!(server.wait().await);

    // Without demo mode: no /demo, no web chat, although --demo-web names a directory.
    let mut server =
        ServerProcess::start_with_args(&data, &["--demo-web", web.to_str().unwrap()], &[]).await;
    demo_login(&client, &server.base, "bob")
        .await
        .expect(404, "not_found");
    send(client.get(format!("{}/", server.base)))
        .await
        .expect(404, "not_found");
    server.terminate();
    assert!(server.wait().await);

    // Demo mode never reads the app private key.
    let mut server = ServerProcess::start_with_args(
        &data,
        &["--demo"],
        &[(
            "TESSERA_APP_PRIVATE_KEY_FILE",
            dir.path().join("missing.secret").to_str().unwrap(),
        )],
    )
    .await;
    demo_login(&client, &server.base, "bob")
        .await
        .expect(200, "");
    server.terminate();
    assert!(server.wait().await);
}

/// Demo mode's tokens stay in the demo: a token from `/demo/login` is refused by a normal
/// server on the same data directory, and by the next demo server (the key lived in the
/// first one's memory only, and no file in the data directory holds it); a token of the
/// data directory's app key is refused by the demo server.
pub(crate) async fn demo_tokens_stay_in_the_demo() {
    let (_dir, data) = initialized_data_dir();
    let client = reqwest::Client::new();
    let files_before = files_of(&data);
    let cards = "/v1/identities/alice/cards";

    let mut demo = ServerProcess::start_with_args(&data, &["--demo"], &[]).await;
    let login = demo_login(&client, &demo.base, "alice").await;
    login.expect(200, "");
    let demo_token = login.json["token"].as_str().unwrap().to_owned();
    send(
        client
            .get(format!("{}{cards}", demo.base))
            .bearer_auth(&demo_token),
    )
    .await
    .expect(200, "");
    let production_token = token_for(&data, "alice");
    let refused = send(
        client
            .get(format!("{}{cards}", demo.base))
            .bearer_auth(&production_token),
    )
    .await;
    refused.expect(401, "unauthorized");
    demo.terminate();
    assert!(demo.wait().await);
    let written: Vec<String> = files_of(&data)
        .into_iter()
        .filter(|name| !files_before.contains(name))
        .collect();
    assert!(
        written.iter().all(|name| name.starts_with("tessera.db")),
        "demo mode wrote {written:?}"
    );

    let mut production = ServerProcess::start(&data, &[]).await;
    let refused = send(
        client
            .get(format!("{}{cards}", production.base))
            .bearer_auth(&demo_token),
    )
    .await;
    refused.expect_saying(401, "unauthorized", "unknown app key");
    send(
        client
            .get(format!("{}{cards}", production.base))
            .bearer_auth(&production_token),
    )
    .await
    .expect(200, "");
    production.terminate();
    assert!(production.wait().await);

    let mut next_demo = ServerProcess::start_with_args(&data, &["--demo"], &[]).await;
    send(
        client
            .get(format!("{}{cards}", next_demo.base))
            .bearer_auth(&demo_token),
    )
    .await
    .expect(401, "unauthorized");
    next_demo.terminate();
    assert!(next_demo.wait().await);
}

/// The names of the files in `dir`.
fn files_of(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect()
}

/// Demo mode listens on loopback unless the operator opts in: a public listen address
/// from the flag, the environment or config.toml is refused with a clear error, and
/// `--demo-public` (or TESSERA_DEMO_PUBLIC=true) allows it.
pub(crate) async fn demo_mode_stays_on_loopback() {
    let (_dir, data) = initialized_data_dir();
    let serve = |args: &[&str], env: &[(&str, &str)]| {
        std::process::Command::new(BINARY)
            .args(["serve", "--data-dir"])
            .arg(&data)
            .args(args)
            .env_clear()
            .envs(env.iter().copied())
            .output()
            .unwrap()
    };
    for (args, env) in [
        (&["--demo", "--listen", "0.0.0.0:0"][..], &[][..]),
        (&["--demo"][..], &[("TESSERA_LISTEN", "0.0.0.0:0")][..]),
        (
            &[][..],
            &[("TESSERA_DEMO", "true"), ("TESSERA_LISTEN", "[::]:0")][..],
        ),
    ] {
        let refused = serve(args, env);
        assert!(!refused.status.success(), "{args:?} {env:?} started");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            stderr.contains("listens on loopback only")
                && stderr.contains("--demo-public")
                && stderr.contains("TESSERA_DEMO_PUBLIC=true"),
            "{stderr}"
        );
    }
    assert!(
        !data.join("tessera.db").exists(),
        "a refused start opens no database"
    );
    // From config.toml as well.
    let config_path = data.join("config.toml");
    let config_text = std::fs::read_to_string(&config_path).unwrap();
    std::fs::write(
        &config_path,
        config_text.replace("listen = \"127.0.0.1:8080\"", "listen = \"0.0.0.0:0\""),
    )
    .unwrap();
    let refused = serve(&["--demo"], &[]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("0.0.0.0:0"));

    for (args, env) in [
        (&["--demo", "--demo-public"][..], &[][..]),
        (&["--demo"][..], &[("TESSERA_DEMO_PUBLIC", "true")][..]),
    ] {
        let mut server = ServerProcess::start_listening(&data, "0.0.0.0:0", args, env).await;
        let port = server.base.rsplit(':').next().unwrap().to_owned();
        send(
            reqwest::Client::new()
                .post(format!("http://127.0.0.1:{port}/demo/login"))
                .json(&json!({ "identity": "alice" })),
        )
        .await
        .expect(200, "");
        server.terminate();
        assert!(server.wait().await);
    }
}
