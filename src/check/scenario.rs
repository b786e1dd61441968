//! Scenarios as data: who runs, on what, with which choices open to the
//! checker.

use std::path::{Path, PathBuf};

use crate::fs::sim::{LockKind, ReaddirOrder, SimFs};
use crate::variants::{RoleParams, Variant};

use super::oracle::Invariant;

/// The staging root every scenario uses.
pub const ROOT: &str = "/r";
/// A directory outside ROOT that nothing may ever remove (INV-6 bait).
pub const OUTSIDE: &str = "/o";
/// The second device, for items that cannot be renamed into ROOT (EXDEV).
pub const OTHER_DEVICE: &str = "/m";
/// The mount point inside the first creator's first item
/// ([`Scenario::mount_in_item`]), relative to the item.
pub const MOUNT_DIR: &str = "mnt";
/// The file on the mounted filesystem, relative to the item.
pub const MOUNT_FILE: &str = "mnt/f";

/// The shape of a staged item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ItemShape {
    /// A regular file: removal is one unlink.
    File,
    /// A directory holding a file and a symlink to [`OUTSIDE`]: removal must
    /// not follow the symlink.
    Tree,
}

/// One configuration for the checkers. Plain data; every field is a bound.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Scenario {
    pub variant: Variant,
    /// Creator processes: each creates one instance, stages its items,
    /// cleans up.
    pub creators: u8,
    /// Recoverer processes, each running `recover_passes` passes.
    pub recoverers: u8,
    /// Items each creator stages.
    pub items: u8,
    pub item_shape: ItemShape,
    /// Size of the id space: ids are drawn from `0..ids`, a scheduling
    /// choice. 1 forces every instance to reuse one name.
    pub ids: u8,
    pub lock_kind: LockKind,
    pub order: ReaddirOrder,
    /// Injected errors allowed in one run (0: faults off).
    pub faults: u8,
    /// Whether any process may crash between any two of its steps.
    pub crashes: bool,
    pub attempts_max: u32,
    pub recover_passes: u8,
    pub cleanup_retries: u8,
    pub use_registry: bool,
    /// Plant foreign entries in ROOT: a plain file, and a symlink named like
    /// a data directory pointing at [`OUTSIDE`].
    pub foreign: bool,
    /// The first creator's first item lives on another device.
    pub cross_device_item: bool,
    /// The first creator and the first recoverer are two threads of one
    /// process (one pid): what a lock kind owned by the process (POSIX)
    /// cannot tell apart.
    pub shared_process: bool,
    /// Status threads, each running one status pass (T1..T8) inside the
    /// first creator's process (in a process of its own when there is no
    /// creator). Inside a process that holds an instance is where status
    /// can matter: in a process of its own it can only make a recoverer
    /// skip a stale id for a moment (SPEC.md "Status"). 0 in every
    /// scenario but the status mutants'.
    pub statuses: u8,
    /// ROOT is a symlink to [`OUTSIDE`] instead of a directory, and every
    /// process opens ROOT first (O1..O3). Only the reference and its
    /// mutants open ROOT.
    pub symlink_root: bool,
    /// The first creator's first item is a directory holding [`MOUNT_DIR`],
    /// the root of a filesystem of its own, with a file [`MOUNT_FILE`] on
    /// it: a mount inside a staged tree, which removal must not cross
    /// (R5a). Off in every scenario but the R5a mutant's.
    pub mount_in_item: bool,
    /// Invariants whose violations the oracle lets pass, so that a search
    /// goes on past a protocol's known first finding to what else breaks.
    /// Empty for every proof.
    pub past: Vec<Invariant>,
}

impl Scenario {
    /// The standard small configuration: the variant's own lock kind
    /// ([`Variant::default_lock_kind`]), crashes on.
    pub fn new(variant: Variant, creators: u8, recoverers: u8, ids: u8) -> Scenario {
        Scenario {
            variant,
            creators,
            recoverers,
            items: 1,
            item_shape: ItemShape::File,
            ids,
            lock_kind: variant.default_lock_kind(),
            order: ReaddirOrder::ReverseName,
            faults: 0,
            crashes: true,
            attempts_max: 2,
            recover_passes: 1,
            cleanup_retries: 1,
            use_registry: false,
            foreign: false,
            cross_device_item: false,
            shared_process: false,
            statuses: 0,
            symlink_root: false,
            mount_in_item: false,
            past: Vec::new(),
        }
        .with_variant_defaults()
    }

    /// Applies what a variant fixes about its environment (the POSIX
    /// mutants run on POSIX locks, the reservation mutants with the
    /// registry, the R1 mutant with the foreign entries planted, the T4
    /// mutant with a status thread, the O1 mutant on a symlink ROOT, the
    /// R5a mutant with a mount inside a staged tree).
    pub fn with_variant_defaults(mut self) -> Scenario {
        if let Some(kind) = self.variant.forced_lock_kind() {
            self.lock_kind = kind;
        }
        if self.variant.forced_registry() {
            self.use_registry = true;
        }
        if self.variant.forced_foreign() {
            self.foreign = true;
        }
        self.statuses = self.statuses.max(self.variant.forced_statuses());
        if self.variant.forced_symlink_root() {
            self.symlink_root = true;
        }
        if self.variant.forced_mount_in_item() {
            self.mount_in_item = true;
        }
        self
    }

    pub fn root(&self) -> &'static Path {
        Path::new(ROOT)
    }

    pub fn processes(&self) -> usize {
        self.creators as usize + self.recoverers as usize + self.statuses as usize
    }

    pub fn role_params(&self) -> RoleParams {
        RoleParams {
            attempts_max: self.attempts_max,
            use_registry: self.use_registry,
            cleanup_retries: self.cleanup_retries,
            open_root: self.symlink_root,
        }
    }

    /// The source path of creator `c`'s item `k`.
    pub fn item_path(&self, c: u8, k: u8) -> PathBuf {
        if self.cross_device_item && c == 0 && k == 0 {
            PathBuf::from(format!("{OTHER_DEVICE}/c{c}i{k}"))
        } else {
            PathBuf::from(format!("/s/c{c}i{k}"))
        }
    }

    /// Builds the initial filesystem: ROOT, the items, the bait.
    pub fn initial_fs(&self) -> SimFs {
        let mut fs = SimFs::new(self.lock_kind, self.order);
        fs.set_id_space(self.ids as u128);
        if !self.symlink_root {
            fs.mkdir_all(Path::new(ROOT));
        }
        fs.mkdir_all(Path::new("/s"));
        fs.mkdir_all(Path::new(OUTSIDE));
        fs.write_file(&Path::new(OUTSIDE).join("keep"));
        if self.symlink_root {
            fs.symlink(Path::new(ROOT), Path::new(OUTSIDE));
        }
        if self.cross_device_item {
            fs.mkdir_all(Path::new(OTHER_DEVICE));
            fs.mount(Path::new(OTHER_DEVICE));
        }
        for c in 0..self.creators {
            for k in 0..self.items {
                let item = self.item_path(c, k);
                if self.mount_in_item && c == 0 && k == 0 {
                    fs.mkdir_all(&item.join(MOUNT_DIR));
                    fs.mount(&item.join(MOUNT_DIR));
                    fs.write_file(&item.join(MOUNT_FILE));
                    continue;
                }
                match self.item_shape {
                    ItemShape::File => fs.write_file(&item),
                    ItemShape::Tree => {
                        fs.mkdir_all(&item);
                        fs.write_file(&item.join("f"));
                        fs.symlink(&item.join("l"), Path::new(OUTSIDE));
                    }
                }
            }
        }
        if self.foreign {
            let layout = self.variant.layout();
            fs.write_file(&Path::new(ROOT).join("foreign"));
            let bait = layout.data_path(Path::new(ROOT), u128::MAX);
            fs.symlink(&bait, Path::new(OUTSIDE));
        }
        fs
    }

    /// A short one-line description, for tables.
    pub fn describe(&self) -> String {
        let lock = match self.lock_kind {
            LockKind::Flock => "flock",
            LockKind::Ofd => "ofd",
            LockKind::Posix => "posix",
        };
        let mut d = format!("{}c+{}r ids={} {lock}", self.creators, self.recoverers, self.ids);
        if self.items != 1 {
            d.push_str(&format!(" items={}", self.items));
        }
        if self.faults > 0 {
            d.push_str(&format!(" faults={}", self.faults));
        }
        if !self.crashes {
            d.push_str(" no-crash");
        }
        if self.shared_process {
            d.push_str(" shared-pid");
        }
        if self.statuses > 0 {
            d.push_str(&format!(" +{}s", self.statuses));
        }
        if self.symlink_root {
            d.push_str(" symlink-root");
        }
        if !self.past.is_empty() {
            let codes: Vec<&str> = self.past.iter().map(|i| i.code()).collect();
            d.push_str(&format!(" past {}", codes.join("+")));
        }
        if self.use_registry {
            d.push_str(" registry");
        }
        if self.item_shape == ItemShape::Tree {
            d.push_str(" trees");
        }
        if self.foreign {
            d.push_str(" foreign");
        }
        if self.cross_device_item {
            d.push_str(" xdev");
        }
        if self.mount_in_item {
            d.push_str(" mount");
        }
        d
    }
}
