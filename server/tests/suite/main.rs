//! tessera-server's test suite: the API over real HTTP on 127.0.0.1 and the storage
//! trait, each against SQLite and PostgreSQL; the crash test and the command line
//! against the real binary.
//!
//! The PostgreSQL tests need `TESSERA_TEST_POSTGRES_URL` (scripts/test starts a private
//! PostgreSQL and sets it); without it they fail rather than being skipped.

// Test code: an unmet expectation must fail the test loudly. clippy.toml allows these in
// `#[test]` functions; the helpers of an integration test crate need the same.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod auth;
mod backups;
mod cards;
mod cli;
mod crash;
mod demo;
mod groups;
mod harness;
mod limits;
mod log;
mod operations;
mod replicas;
mod storage;

/// Declares each test once per database: `sqlite::<name>` and `postgres::<name>`.
macro_rules! on_both_databases {
    ($($module:ident :: $test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    crate::$module::$test(crate::harness::Database::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    crate::$module::$test(crate::harness::Database::Postgres).await;
                }
            )*

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn readiness_follows_the_database() {
                crate::operations::readiness_follows_the_database().await;
            }
        }
    };
}

on_both_databases!(
    cards::card_endpoints_happy_path,
    cards::publish_rules_are_enforced,
    cards::concurrent_publishes_have_one_winner,
    cards::search_and_outdated_take_batches_of_a_thousand,
    backups::backup_endpoints_happy_path,
    backups::backup_preconditions_give_412,
    backups::backups_are_private_and_validated,
    groups::group_ticket_rules_and_visibility,
    groups::groups_hold_thousands_of_participants,
    log::log_is_a_verifiable_hash_chain,
    operations::operations_endpoints_answer,
    auth::every_bad_token_is_refused,
    auth::other_identities_resources_are_refused,
    auth::every_configured_app_key_is_accepted,
    auth::tokens_for_another_audience_are_refused,
    limits::size_and_batch_limits,
    limits::rate_limits_answer_429,
    limits::hostile_input_gets_clear_errors,
    limits::hostile_headers_are_refused_cleanly,
    limits::ipv6_clients_share_their_64_budget,
    limits::half_sent_requests_are_cut_off,
    storage::storage_rules_hold,
    storage::keys_belong_to_their_first_identity,
    demo::login_mints_tokens_the_api_accepts,
    demo::relay_round_trip_and_visibility,
    demo::message_size_limits,
    demo::concurrent_posts_are_never_skipped,
    demo::users_lists_identities_with_cards,
    demo::without_demo_mode_nothing_is_there,
);

/// Several replicas on one PostgreSQL database: search cache freshness.
mod postgres_replicas {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_reach_other_replicas_within_the_bound() {
        crate::replicas::writes_reach_other_replicas_within_the_bound().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn racing_searches_never_keep_a_superseded_card() {
        crate::replicas::racing_searches_never_keep_a_superseded_card().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lost_listener_bypasses_then_resets_the_cache() {
        crate::replicas::a_lost_listener_bypasses_then_resets_the_cache().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_current_cache_answers_without_the_database() {
        crate::replicas::a_current_cache_answers_without_the_database().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_disabled_cache_never_answers() {
        crate::replicas::a_disabled_cache_never_answers().await;
    }
}

/// Browser access (CORS): independent of the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_follows_the_configured_origins() {
    crate::operations::cors_follows_the_configured_origins().await;
}

/// Demo mode's web files and start-up checks: independent of the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_web_chat_files_are_served() {
    crate::demo::web_chat_files_are_served().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_mode_start_checks() {
    crate::demo::demo_mode_start_checks().await;
}

/// Tests of the real binary (SQLite, its default database).
mod binary {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn init_token_and_serve() {
        crate::cli::init_token_and_serve().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sigterm_finishes_in_flight_requests() {
        crate::cli::sigterm_finishes_in_flight_requests().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn logs_never_contain_secrets() {
        crate::cli::logs_never_contain_secrets().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn serve_demo_end_to_end() {
        crate::cli::serve_demo_end_to_end().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn demo_tokens_stay_in_the_demo() {
        crate::cli::demo_tokens_stay_in_the_demo().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn demo_mode_stays_on_loopback() {
        crate::cli::demo_mode_stays_on_loopback().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn acknowledged_writes_survive_sigkill() {
        crate::crash::acknowledged_writes_survive_sigkill().await;
    }
}
