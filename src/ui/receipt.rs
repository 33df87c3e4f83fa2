//! The receipt in the desk's language: the box on the guided screen and the text for
//! the printer.
//!
//! The English text receipt stays exactly [`Receipt::to_text`] (scripts and printers
//! already read it); Chinese gets the same fields with Chinese labels. Neither can
//! hold a PIN or key: [`Receipt`] has no field for one.

use super::i18n::{Lang, Text};
use crate::activation::receipt::Receipt;

/// Display width of a string on a terminal in columns: CJK and full-width
/// characters take two, as `unicode-width` counts them (Unicode UAX #11 East Asian
/// Width), so Chinese labels line up in the receipt box.
pub fn width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

/// `s` padded with spaces to `w` columns.
pub fn pad(s: &str, w: usize) -> String {
    let mut out = s.to_string();
    out.push_str(&" ".repeat(w.saturating_sub(width(s))));
    out
}

/// The flow's name for people.
pub fn flow_name(lang: Lang, flow: &str) -> String {
    match flow {
        "pharmacy" => Text::FlowPharmacy.get(lang).to_string(),
        "window" => Text::FlowWindow.get(lang).to_string(),
        "first-use" => Text::FlowFirstUse.get(lang).to_string(),
        other => other.to_string(),
    }
}

/// The receipt's rows: label and value.
pub fn rows(lang: Lang, r: &Receipt) -> Vec<(String, String)> {
    let t = |x: Text| x.get(lang).to_string();
    let mut v = vec![
        (t(Text::Flow), flow_name(lang, &r.flow)),
        (t(Text::Holder), r.holder_name.clone()),
        (t(Text::CitizenId), r.citizen_id_masked.clone()),
    ];
    if let Some(old) = &r.old_card {
        let state = if r.old_card_finished {
            Text::OldMigrated
        } else {
            Text::OldFrozen
        };
        let sep = if lang == Lang::En { " " } else { "" };
        v.push((t(Text::OldCard), format!("{old}{sep}{}", state.get(lang))));
    }
    v.push((t(Text::NewCard), r.new_card.clone()));
    // A window or first-use activation moves no money: no "0.00" row (issue 15 §9).
    if r.moved_money() {
        v.push((
            t(Text::Amount),
            format!("{} {}", r.amount_yuan, Text::Yuan.get(lang)),
        ));
    }
    v.push((t(Text::TransferId), r.transfer_id.clone()));
    v.push((capitalize(Text::Terminal.get(lang)), r.terminal.clone()));
    v.push((capitalize(Text::Operator.get(lang)), r.operator.clone()));
    v.push((t(Text::Time), r.readable_time()));
    v
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The printed receipt in `lang` (English: exactly [`Receipt::to_text`]).
pub fn text(lang: Lang, r: &Receipt) -> String {
    if lang == Lang::En {
        return r.to_text();
    }
    let rows = rows(lang, r);
    let w = rows.iter().map(|(l, _)| width(l)).max().unwrap_or(0) + 2;
    let mut s = String::from("==== 社保卡激活回执 ====\n");
    for (label, value) in rows {
        s.push_str(&pad(&format!("{label}："), w + 2));
        s.push_str(&value);
        s.push('\n');
    }
    s.push_str("========================\n");
    s
}

/// A receipt for tests.
#[cfg(test)]
pub(crate) fn sample() -> Receipt {
    Receipt {
        schema_version: "1.0",
        flow: "pharmacy".into(),
        holder_name: "张三".into(),
        citizen_id_masked: "111111********1110".into(),
        old_card: Some("6399000123".into()),
        new_card: "X00000019".into(),
        amount_fen: 123456,
        amount_yuan: "1234.56".into(),
        transfer_id: "AB".into(),
        terminal: "639900000001".into(),
        operator: "demo".into(),
        time: "2026-11-22T10:00:00+08:00".into(),
        old_card_finished: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_takes_two_columns_and_pads_to_the_same_edge() {
        assert_eq!(width("张三"), 4);
        assert_eq!(width("持卡人 X00000019"), 16);
        assert_eq!(width("ＡＢ"), 4, "full-width Latin");
        assert_eq!(
            width("─│╰·"),
            4,
            "box drawing and the middle dot are narrow"
        );
        assert_eq!(width(pad("持卡人", 10).as_str()), 10);
        assert_eq!(width(pad("Holder", 10).as_str()), 10);
        assert_eq!(pad("张三丰", 4), "张三丰", "never cut");
    }

    #[test]
    fn english_is_the_printed_receipt_and_chinese_has_every_field() {
        let r = sample();
        assert_eq!(text(Lang::En, &r), r.to_text());
        let zh = text(Lang::Zh, &r);
        for needle in [
            "持卡人",
            "张三",
            "旧卡",
            "已冻结",
            "1234.56 元",
            "X00000019",
            "639900000001",
        ] {
            assert!(zh.contains(needle), "{needle}: {zh}");
        }
        assert_eq!(width("持卡人"), 6);
        assert_eq!(pad("ab", 4), "ab  ");
        // Full-width punctuation and a combining mark (issue 15 §9).
        assert_eq!(width("时间："), 6);
        assert_eq!(width("e\u{301}"), 1);
        assert!(zh.contains("2026-11-22 10:00:00"), "{zh}");
        // Every value starts in the same column (display columns, not chars).
        let cols: Vec<usize> = zh
            .lines()
            .filter(|l| l.contains('：'))
            .map(|l| {
                let after = l.find('：').unwrap() + '：'.len_utf8();
                let rest = &l[after..];
                width(&l[..after + rest.len() - rest.trim_start().len()])
            })
            .collect();
        assert!(cols.windows(2).all(|w| w[0] == w[1]), "{cols:?}\n{zh}");
        let mut w = sample();
        w.flow = "window".into();
        w.old_card = None;
        w.amount_fen = 0;
        w.amount_yuan = "0.00".into();
        let zh = text(Lang::Zh, &w);
        assert!(!zh.contains("转移金额") && !zh.contains("0.00"), "{zh}");
    }
}
