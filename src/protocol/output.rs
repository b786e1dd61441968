//! [`Output`]: what a machine writes for its caller and never reads to
//! choose a step.

use std::hash::{Hash, Hasher};
use std::ops::{Deref, DerefMut};

/// A value a machine only accumulates for its output (a recovery pass's
/// report, why the last id was given up, the foreign names seen). No step
/// of the machine depends on it, so it is left out of `==` and `Hash`: two
/// machine states that differ only in what they will report have the same
/// future, and a search keeps one of them (the exhaustive search would
/// otherwise tell apart "reclaimed id 0, now at id 1" from "saw id 0 live,
/// now at id 1" for no gain).
///
/// The machines keep this promise by construction: each field of this type
/// is written in one place and read only when the machine ends (the
/// `Done` step). The oracle never reads it either.
#[derive(Clone, Debug, Default)]
pub struct Output<T>(pub T);

impl<T> PartialEq for Output<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<T> Eq for Output<T> {}

impl<T> Hash for Output<T> {
    fn hash<H: Hasher>(&self, _: &mut H) {}
}

impl<T> Deref for Output<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Output<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}
