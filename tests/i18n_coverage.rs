//! Every sentence the activation code shows a desk worker has a Chinese translation.
//!
//! The flows are edited often; their sentences (refusal reasons, safety stops,
//! timeouts, notes, prompts, setup errors) are read from the sources here, so a new
//! one without an entry in `src/ui/i18n.rs`'s phrase table fails this test with the
//! file and line to translate.

mod ui_support;

use sscard::ui::i18n::known_phrase;
use ui_support::desk_sentences;

#[test]
fn every_desk_sentence_of_the_flows_has_chinese() {
    let all = desk_sentences();
    let missing: Vec<String> = all
        .iter()
        .filter(|s| known_phrase(&s.pattern.replace("{}", "")).is_none())
        .map(|s| format!("{}  {:?}  {:?}", s.place, s.kind, s.pattern))
        .collect();
    assert!(
        missing.is_empty(),
        "add these to PHRASES in src/ui/i18n.rs:\n{}",
        missing.join("\n")
    );
}
