//! Sensor readings kept as `f64`: `record` appends readings, `rescale` converts every stored reading to another
//! unit (multiplying or dividing by a factor), `summary` computes mean and variance. Each heavy method returns the
//! instructions it used (`performance_counter`), as canisters profiled with canbench do, so a change in cost is
//! visible to the caller.
//!
//! The two rescaling loops run the same Wasm operators except one: `f64.mul` in one, `f64.div` in the other. The IC
//! weighs a division 5 and a multiplication 2, so dividing `n` readings costs exactly `3 n` instructions more, and a
//! large enough store fits the instruction limit when multiplied but not when divided. `stamp_costs` measures a
//! System API call the same way.

use std::cell::RefCell;
use std::hint::black_box;

use candid::CandidType;
use serde::Deserialize;

thread_local! {
    static READINGS: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

/// How `rescale` converts a reading.
#[derive(CandidType, Deserialize, Clone, Copy, Debug)]
enum Conversion {
    /// `reading * factor`.
    Multiply(f64),
    /// `reading / factor`.
    Divide(f64),
}

/// Mean and variance of the stored readings.
#[derive(CandidType, Clone, Debug)]
struct Summary {
    count: u64,
    mean: f64,
    variance: f64,
    instructions: u64,
}

fn instructions() -> u64 {
    ic_cdk::api::performance_counter(0)
}

/// Appends `count` readings `start, start + step, ...` (a sensor's batch upload).
#[ic_cdk::update]
fn record(start: f64, step: f64, count: u32) -> u64 {
    READINGS.with_borrow_mut(|r| {
        r.reserve(count as usize);
        let mut value = start;
        for _ in 0..count {
            r.push(value);
            value += step;
        }
        r.len() as u64
    })
}

// Kept out of line and never inlined, so each loop is compiled once with the same shape.
#[inline(never)]
fn multiply_all(readings: &mut [f64], factor: f64) {
    for reading in readings.iter_mut() {
        *reading = black_box(*reading * factor);
    }
}

#[inline(never)]
fn divide_all(readings: &mut [f64], factor: f64) {
    for reading in readings.iter_mut() {
        *reading = black_box(*reading / factor);
    }
}

/// Converts every stored reading; returns the instructions the conversion took.
#[ic_cdk::update]
fn rescale(conversion: Conversion) -> u64 {
    READINGS.with_borrow_mut(|r| {
        let before = instructions();
        match conversion {
            Conversion::Multiply(factor) => multiply_all(r, factor),
            Conversion::Divide(factor) => divide_all(r, factor),
        }
        instructions() - before
    })
}

// What stamping a reading with the time costs against stamping it with a constant: the same loop but for one
// System API call (`ic0.time`, a fixed 500 instructions on the IC) instead of one constant.
#[inline(never)]
fn stamp_with_clock(count: u32) -> u64 {
    let mut last = 0;
    for _ in 0..count {
        last = black_box(ic_cdk::api::time());
    }
    last
}

#[inline(never)]
fn stamp_with_constant(count: u32) -> u64 {
    let mut last = 0;
    for _ in 0..count {
        last = black_box(1_700_000_000_000_000_000u64);
    }
    last
}

/// Instructions that `count` readings of the clock take, and `count` readings of a constant.
#[ic_cdk::query]
fn stamp_costs(count: u32) -> (u64, u64) {
    let start = instructions();
    stamp_with_clock(count);
    let clock = instructions();
    stamp_with_constant(count);
    (clock - start, instructions() - clock)
}

/// Mean and (population) variance of the stored readings.
#[ic_cdk::query]
fn summary() -> Summary {
    READINGS.with_borrow(|r| {
        let count = r.len() as f64;
        let mean = if r.is_empty() { 0.0 } else { r.iter().sum::<f64>() / count };
        let variance = if r.is_empty() { 0.0 } else { r.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / count };
        Summary { count: r.len() as u64, mean, variance, instructions: instructions() }
    })
}

ic_cdk::export_candid!();
