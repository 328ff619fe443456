//! The test `icfuzz regress` wrote (see build.rs).

include!(concat!(env!("OUT_DIR"), "/regression.rs"));
