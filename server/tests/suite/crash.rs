//! Crash safety on SQLite: the real server under a write burst is killed with SIGKILL,
//! restarted on the same file, and every acknowledged write is there, none half-written.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::json;
use tessera_format::{Card, CardId, card::verify_chain};
use tessera_server::log_chain::{EMPTY_LOG_HASH, LogHead, verify_continuation};

use crate::{
    cli::{ServerProcess, initialized_data_dir, token_for},
    harness::{b64, random_card, send, unb64},
    log::parse_entries,
};

const WRITERS: usize = 16;
const ACKS_BEFORE_KILL: usize = 400;

/// The blob writer `w` stores at step `i`: distinct, 1 to 5 KB, checkable after the crash.
fn expected_blob(writer: usize, step: usize) -> Vec<u8> {
    let length = 1000 + (step * 397 + writer * 131) % 4000;
    (0..length)
        .map(|k| (k * 31 + step * 7 + writer * 13) as u8)
        .collect()
}

#[derive(Default)]
struct Acknowledged {
    backups: Vec<(usize, usize)>,
    cards: Vec<(usize, CardId)>,
}

pub(crate) async fn acknowledged_writes_survive_sigkill() {
    let (_dir, data) = initialized_data_dir();
    let unlimited = [
        ("TESSERA_IDENTITY_REQUESTS_PER_SECOND", "0"),
        ("TESSERA_ADDRESS_REQUESTS_PER_SECOND", "0"),
    ];
    let mut server = ServerProcess::start(&data, &unlimited).await;
    let base = server.base.clone();

    let acknowledged = Arc::new(Mutex::new(Acknowledged::default()));
    let ack_count = Arc::new(AtomicUsize::new(0));
    let stopped = Arc::new(AtomicBool::new(false));
    let attempted = Arc::new(Mutex::new(HashMap::<usize, usize>::new()));
    let mut workers = Vec::new();
    for writer in 0..WRITERS {
        let token = token_for(&data, &format!("writer{writer}"));
        let identity = format!("writer{writer}");
        let (base, acknowledged, ack_count, stopped, attempted) = (
            base.clone(),
            acknowledged.clone(),
            ack_count.clone(),
            stopped.clone(),
            attempted.clone(),
        );
        workers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut previous: Option<Card> = None;
            for step in 0.. {
                if stopped.load(Ordering::Relaxed) && step > 0 {
                    // Keep writing until the connection fails: the kill must hit requests
                    // in flight.
                }
                attempted.lock().unwrap().insert(writer, step);
                let outcome = if step % 4 == 3 {
                    let card = random_card(&identity, previous.as_ref().map(Card::id));
                    let sent = client
                        .post(format!("{base}/v1/cards"))
                        .bearer_auth(&token)
                        .json(&json!({ "card": card.to_wire() }))
                        .send()
                        .await;
                    match sent {
                        Ok(response) if response.status() == 201 => {
                            acknowledged.lock().unwrap().cards.push((writer, card.id()));
                            previous = Some(card);
                            true
                        }
                        Ok(response) => panic!("publish failed: {}", response.status()),
                        Err(_) => false,
                    }
                } else {
                    let sent = client
                        .put(format!("{base}/v1/backups/w{writer}-{step}"))
                        .bearer_auth(&token)
                        .json(&json!({ "blob": b64(&expected_blob(writer, step)) }))
                        .send()
                        .await;
                    match sent {
                        Ok(response) if response.status() == 201 => {
                            acknowledged.lock().unwrap().backups.push((writer, step));
                            true
                        }
                        Ok(response) => panic!("backup write failed: {}", response.status()),
                        Err(_) => false,
                    }
                };
                if !outcome {
                    break;
                }
                ack_count.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }

    let started = Instant::now();
    while ack_count.load(Ordering::Relaxed) < ACKS_BEFORE_KILL
        && started.elapsed() < Duration::from_secs(60)
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.child.start_kill().unwrap(); // SIGKILL
    stopped.store(true, Ordering::Relaxed);
    server.child.wait().await.unwrap();
    for worker in workers {
        worker.await.unwrap();
    }
    let acknowledged = Arc::try_unwrap(acknowledged)
        .ok()
        .unwrap()
        .into_inner()
        .unwrap();
    assert!(
        acknowledged.backups.len() + acknowledged.cards.len() >= ACKS_BEFORE_KILL,
        "the burst acknowledged too few writes before the kill"
    );

    let mut restarted = ServerProcess::start(&data, &unlimited).await;
    let client = reqwest::Client::new();
    let acked_backups: std::collections::HashSet<(usize, usize)> =
        acknowledged.backups.iter().copied().collect();
    let attempted = attempted.lock().unwrap().clone();
    for writer in 0..WRITERS {
        let token = token_for(&data, &format!("writer{writer}"));
        for step in 0..=attempted[&writer] {
            if step % 4 == 3 {
                continue;
            }
            let reply = send(
                client
                    .get(format!("{}/v1/backups/w{writer}-{step}", restarted.base))
                    .bearer_auth(&token),
            )
            .await;
            if acked_backups.contains(&(writer, step)) {
                reply.expect(200, "");
            }
            match reply.status {
                200 => assert_eq!(
                    unb64(reply.json["blob"].as_str().unwrap()),
                    expected_blob(writer, step),
                    "backup w{writer}-{step} is corrupt"
                ),
                404 => {}
                other => panic!("unexpected status {other} for w{writer}-{step}"),
            }
        }
    }

    // Cards: every acknowledged card is in its identity's history, which is a valid
    // rotation chain ending in the one active card.
    let mut cards_in_histories = 0;
    let reader = token_for(&data, "auditor");
    for writer in 0..WRITERS {
        let reply = send(
            client
                .get(format!(
                    "{}/v1/identities/writer{writer}/cards",
                    restarted.base
                ))
                .bearer_auth(&reader),
        )
        .await;
        reply.expect(200, "");
        let records = reply.json["cards"].as_array().unwrap().clone();
        let chain: Vec<Card> = records
            .iter()
            .map(|r| {
                Card::from_parts(
                    &unb64(r["snapshot"].as_str().unwrap()),
                    &unb64(r["signature"].as_str().unwrap()),
                )
                .unwrap()
            })
            .collect();
        if !chain.is_empty() {
            verify_chain(&chain).unwrap();
            let active = records.iter().filter(|r| r["status"] == "active").count();
            assert_eq!(active, 1);
            assert_eq!(records.last().unwrap()["status"], "active");
        }
        for (_, id) in acknowledged.cards.iter().filter(|(w, _)| *w == writer) {
            assert!(
                chain.iter().any(|c| c.id() == *id),
                "acknowledged card {id:?} lost"
            );
        }
        cards_in_histories += chain.len();
    }

    // The log verifies end to end and records exactly the cards that exist.
    let mut head = LogHead {
        size: 0,
        hash: EMPTY_LOG_HASH,
    };
    let mut publishes = 0;
    loop {
        let page = send(client.get(format!(
            "{}/v1/log?after={}&limit=1000",
            restarted.base, head.size
        )))
        .await;
        let entries = parse_entries(&page.json);
        if entries.is_empty() {
            break;
        }
        publishes += entries.len();
        head = verify_continuation(head, &entries).unwrap();
    }
    assert_eq!(publishes, cards_in_histories);
    let served_head = send(client.get(format!("{}/v1/log/head", restarted.base))).await;
    assert_eq!(served_head.json["size"], head.size);
    restarted.terminate();
    assert!(restarted.wait().await);

    // SQLite's own verdict on the file.
    let url = format!("sqlite://{}", data.join("tessera.db").display());
    let mut connection = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    let verdict: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    assert_eq!(verdict, "ok");
}
