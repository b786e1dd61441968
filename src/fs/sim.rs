//! The simulated filesystem. (Being written.)
