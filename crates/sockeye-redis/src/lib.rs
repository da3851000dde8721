//! Redis adapters for sockeye (work in progress).
