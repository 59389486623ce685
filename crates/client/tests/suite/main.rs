//! The client against the real tessera-server, one binary for every concern (each module
//! below is one of them); `common` starts the server and makes devices.

mod backup;
mod common;
mod groups;
mod lifecycle;
mod messaging;
mod offline;
mod streams;
