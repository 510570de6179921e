//! Decisions as JavaScript objects: the measured alternative to `JSON.parse` of the decision
//! text (see README.md).

use napi::bindgen_prelude::Object;
use napi::Env;
use portcullis::Decision;

/// Builds the POLICY.md §8 object for `decision`, keys as in the spec.
pub fn to_object<'env>(env: &'env Env, decision: &Decision) -> napi::Result<Object<'env>> {
    let mut object = Object::new(env)?;
    object.set("effect", decision.effect.as_str())?;
    object.set("allowed", decision.allowed())?;
    object.set("code", decision.code.as_str())?;
    object.set("rule", decision.rule.as_deref())?;
    object.set("reason", &*decision.reason)?;
    let mut matched = env.create_array(decision.matched.len() as u32)?;
    for (index, rule) in decision.matched.iter().enumerate() {
        matched.set(index as u32, &**rule)?;
    }
    object.set("matched", matched)?;
    let mut shadow = env.create_array(decision.shadow.len() as u32)?;
    for (index, hit) in decision.shadow.iter().enumerate() {
        let mut entry = Object::new(env)?;
        entry.set("rule", &*hit.rule)?;
        entry.set("effect", hit.effect)?;
        shadow.set(index as u32, entry)?;
    }
    object.set("shadow", shadow)?;
    object.set("params", decision.params.clone())?;
    object.set(
        "retry_after_ms",
        decision.retry_after_ms.map(|ms| ms as f64),
    )?;
    object.set("action_hash", decision.action_hash.as_deref())?;
    let mut policy = Object::new(env)?;
    policy.set("name", &*decision.policy.name)?;
    policy.set("version", decision.policy.version.as_deref())?;
    object.set("policy", policy)?;
    object.set("eval_ns", decision.eval_ns as f64)?;
    Ok(object)
}
