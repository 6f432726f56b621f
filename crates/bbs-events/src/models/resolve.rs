//! Resolving a deprecated actual-LRP group to the LRP it stands for.

use super::{ActualLrp, ActualLrpGroup};

impl ActualLrpGroup {
    /// The LRP this group stands for, as the BBS resolves it, and whether it is the evacuating one.
    ///
    /// With only an instance or only an evacuating LRP, that one. With both, the instance when its state
    /// is `RUNNING` or `CRASHED`, else the evacuating LRP. `None` for a group with neither, which the BBS
    /// treats as invalid.
    pub fn resolve(&self) -> Option<(&ActualLrp, bool)> {
        match (&self.instance, &self.evacuating) {
            (None, None) => None,
            (Some(instance), None) => Some((instance, false)),
            (None, Some(evacuating)) => Some((evacuating, true)),
            (Some(instance), Some(evacuating)) => {
                if instance.state == "RUNNING" || instance.state == "CRASHED" {
                    Some((instance, false))
                } else {
                    Some((evacuating, true))
                }
            }
        }
    }
}
