//! How fast the machine is right now, measured on the server's CPU before each run.
//!
//! Our machines are shared VMs whose speed drifts by tens of percent within an hour, and the
//! hypervisor does not report it as steal time. The same build gave 0.56 ms of CPU per POST in
//! one hour and 0.75 ms in the next. So every run records two probes taken just before its
//! server starts, pinned where the server will run:
//!
//! - `roundtrip_us`: one byte sent back and forth over loopback TCP between two threads on that
//!   CPU. This is a wake-up, a context switch and a small TCP send each way, the kinds of work
//!   that dominate the server's own costs.
//! - `compute_ms`: a fixed loop of arithmetic, with no system calls.
//!
//! Figures from runs whose probes differ are not comparable; the report gives the probes'
//! median and range beside the results.

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

use anyhow::Context;
use serde_json::{Value, json};

use super::driver::{Placement, command, exe};

const REPEATS: usize = 5;
const ROUND_TRIPS: u32 = 5_000;
const COMPUTE_ROUNDS: u64 = 20_000_000;

/// The probes, in this process (started pinned by [`run`]): the median of five tries
/// of each, so that one interruption does not stand for the whole machine.
pub fn measure() -> anyhow::Result<Value> {
    let mut roundtrip = Vec::with_capacity(REPEATS);
    let mut compute = Vec::with_capacity(REPEATS);
    for _ in 0..REPEATS {
        roundtrip.push(roundtrip_us()?);
        compute.push(compute_ms());
    }
    Ok(json!({"roundtrip_us": median(roundtrip), "compute_ms": median(compute)}))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Microseconds per one-byte round trip over loopback TCP between two threads.
fn roundtrip_us() -> anyhow::Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let echo = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut s, _) = listener.accept()?;
        s.set_nodelay(true)?;
        let mut b = [0u8; 1];
        for _ in 0..ROUND_TRIPS {
            s.read_exact(&mut b)?;
            s.write_all(&b)?;
        }
        Ok(())
    });
    let mut c = TcpStream::connect(addr)?;
    c.set_nodelay(true)?;
    let mut b = [7u8; 1];
    let started = Instant::now();
    for _ in 0..ROUND_TRIPS {
        c.write_all(&b)?;
        c.read_exact(&mut b)?;
    }
    let us = started.elapsed().as_secs_f64() * 1e6 / f64::from(ROUND_TRIPS);
    echo.join()
        .map_err(|_| anyhow::anyhow!("the echo thread panicked"))??;
    Ok(us)
}

/// Milliseconds for a fixed loop of arithmetic.
fn compute_ms() -> f64 {
    let started = Instant::now();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..COMPUTE_ROUNDS {
        x = black_box(x ^ i)
            .wrapping_mul(0x0100_0000_01b3)
            .rotate_left(7);
    }
    black_box(x);
    started.elapsed().as_secs_f64() * 1e3
}

/// Runs [`measure`] in a process of its own on the server's CPUs and returns what it found.
pub async fn run(place: &Placement) -> anyhow::Result<Value> {
    let out = command(&place.server_cpus, &exe()?)
        .arg("calibrate")
        .output()
        .await
        .context("starting the calibration probe")?;
    anyhow::ensure!(
        out.status.success(),
        "calibration probe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(serde_json::from_slice(&out.stdout)?)
}
