//! The operation log: entries for publishes and revokes, chained by hash, paged.

use serde_json::{Value, json};
use tessera_format::CardId;
use tessera_server::log_chain::{
    EMPTY_LOG_HASH, LogEntry, LogHead, LogOperation, hex32, verify_continuation,
};

use crate::harness::{Database, TestServer, card};

fn hash_from_hex(text: &str) -> [u8; 32] {
    let id = CardId::from_hex(text).unwrap();
    id.0
}

/// Parses the JSON entries back into [`LogEntry`] values.
pub(crate) fn parse_entries(json: &Value) -> Vec<LogEntry> {
    json["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| LogEntry {
            seq: e["seq"].as_u64().unwrap(),
            op: LogOperation::from_name(e["op"].as_str().unwrap()).unwrap(),
            identity: e["identity"].as_str().unwrap().to_owned(),
            card_id: CardId::from_hex(e["card_id"].as_str().unwrap()).unwrap(),
            timestamp: e["timestamp"].as_u64().unwrap(),
            prev_hash: hash_from_hex(e["prev_hash"].as_str().unwrap()),
            hash: hash_from_hex(e["hash"].as_str().unwrap()),
        })
        .collect()
}

pub(crate) async fn log_is_a_verifiable_hash_chain(database: Database) {
    let server = TestServer::start(database).await;
    let empty = server.get("/v1/log/head", None).await;
    empty.expect(200, "");
    assert_eq!(
        empty.json,
        json!({ "size": 0, "hash": hex32(&EMPTY_LOG_HASH) })
    );

    let first = card("alice", 1, None);
    let second = card("alice", 2, Some(first.id()));
    let bobs = card("bob", 3, None);
    server.publish("alice", &first).await.expect(201, "");
    server.publish("alice", &second).await.expect(201, "");
    server.publish("bob", &bobs).await.expect(201, "");
    server
        .post(
            &format!("/v1/cards/{}/revoke", bobs.id().to_hex()),
            Some(&server.token("bob")),
            &json!({}),
        )
        .await
        .expect(200, "");

    let head = server.get("/v1/log/head", None).await;
    assert_eq!(head.json["size"], 4);
    let all = server.get("/v1/log", None).await;
    all.expect(200, "");
    let entries = parse_entries(&all.json);
    let ops: Vec<(LogOperation, &str, CardId)> = entries
        .iter()
        .map(|e| (e.op, e.identity.as_str(), e.card_id))
        .collect();
    assert_eq!(
        ops,
        [
            (LogOperation::Publish, "alice", first.id()),
            (LogOperation::Publish, "alice", second.id()),
            (LogOperation::Publish, "bob", bobs.id()),
            (LogOperation::Revoke, "bob", bobs.id()),
        ]
    );
    let verified = verify_continuation(
        LogHead {
            size: 0,
            hash: EMPTY_LOG_HASH,
        },
        &entries,
    )
    .unwrap();
    assert_eq!(hex32(&verified.hash), head.json["hash"]);

    // Paging continues the same chain.
    let page1 = parse_entries(&server.get("/v1/log?limit=2", None).await.json);
    let page2 = parse_entries(&server.get("/v1/log?after=2&limit=2", None).await.json);
    assert_eq!(page1.len(), 2);
    assert_eq!(page2.len(), 2);
    let middle = verify_continuation(
        LogHead {
            size: 0,
            hash: EMPTY_LOG_HASH,
        },
        &page1,
    )
    .unwrap();
    assert_eq!(verify_continuation(middle, &page2).unwrap(), verified);
    let past_end = server.get("/v1/log?after=4", None).await;
    assert_eq!(past_end.json["entries"], json!([]));

    for query in ["limit=0", "limit=1001", "after=-1", "after=x", "other=1"] {
        server
            .get(&format!("/v1/log?{query}"), None)
            .await
            .expect(400, "invalid_request");
    }
    server.stop().await;
}
