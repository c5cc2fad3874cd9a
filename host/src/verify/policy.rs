//! The policy checks the host makes itself, before any plugin is called,
//! from the catalogue row of the key's curve (never from what the plugin
//! declares): hashes and encodings the catalogue allows, and the
//! signature rules public data suffices for (`plugins::policy`): no high-S
//! signature on a low-S curve, no unreduced S on strict Ed25519. Whatever
//! plugin is active, such a signature never verifies.

use super::VerifyError;
use super::request::{Plan, Prepared};
use crate::plugins::policy::{CurvePolicy, check_signature};
use crate::store::catalog::CurveRow;

/// A key's curve and its catalogue policy (none for curveless keys).
#[derive(Debug, Clone, Default)]
pub(super) struct KeyPolicy {
    curve: Option<(String, CurvePolicy)>,
}

impl KeyPolicy {
    /// The policy of `curve` among the catalogue's `curves`.
    pub(super) fn of(curve: Option<&str>, curves: &[CurveRow]) -> Self {
        let curve = curve.and_then(|name| curves.iter().find(|c| c.name == name));
        KeyPolicy {
            curve: curve.map(|c| (c.name.clone(), c.policy.0.clone())),
        }
    }

    /// Refuse what the catalogue does not allow for this request.
    pub(super) fn check(&self, plan: &Plan, prepared: &Prepared) -> Result<(), VerifyError> {
        let Some((curve, policy)) = &self.curve else {
            return Ok(());
        };
        if let (Some(hash), Some(allowed)) = (plan.hash, &policy.hashes)
            && !allowed.contains(&hash)
        {
            return Err(VerifyError::invalid(
                "unsupported_hash",
                format!("the catalogue does not allow {hash} on {curve}"),
            ));
        }
        if let Some(allowed) = &policy.encodings
            && !allowed.contains(&plan.encoding)
        {
            return Err(VerifyError::invalid(
                "unsupported_encoding",
                format!(
                    "the catalogue does not allow signature encoding {} on {curve}",
                    plan.encoding
                ),
            ));
        }
        check_signature(policy, curve, plan.encoding, &prepared.signature)?;
        Ok(())
    }
}
