//! A private PC/SC test bed: pcscd with the vpcd driver, and virtual cards plugged in.
//!
//! Used by the end-to-end tests, the benchmarks and the README's demo, so all three
//! exercise the same real parts: a real `pcscd` (in its own mount namespace, so it
//! never disturbs a system pcscd), the real `vpcd` driver, and our virtual cards as
//! separate `sscard vcard` processes (killing one = pulling the card).
//!
//! Clients reach the private daemon through `PCSCLITE_CSOCK_NAME`, which pcsc-lite
//! reads once per process: give it to child processes with [`Pcscd::env`], or set it
//! before the first PC/SC call of a process that talks to one daemon only.

pub mod pcscd;
pub mod vcard_process;

pub use pcscd::Pcscd;
pub use vcard_process::VirtualCardProcess;
