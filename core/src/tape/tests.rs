//! The tape against the strict parser: what it accepts, the values and JCS text it builds.
use super::*;
use crate::json::parse_strict;

/// The tape accepts exactly what the strict parser accepts, and builds the same value.
fn same_as_parser(text: &str, depth: usize) {
    let tape = Tape::read(text, depth);
    match parse_strict(text.as_bytes(), depth) {
        Ok(want) => {
            let tape = tape.unwrap_or_else(|| panic!("the tape refused {text:?}"));
            assert_eq!(tape.value(ROOT), Some(&want), "{text:?}");
            let (mut got, mut jcs) = (String::new(), String::new());
            tape.write_jcs(ROOT, &mut got);
            crate::json::write_jcs(&want, &mut jcs);
            assert_eq!(got, jcs, "{text:?}");
        }
        Err(e) => assert!(tape.is_none(), "the tape took {text:?} ({e:?})"),
    }
}

const TEXTS: &[&str] = &[
    r#"{"tool":"t","agent":{"id":"a"},"params":{"x":[1,-2,3.5,1e300,-0,0.1e-3,18446744073709551615,-9223372036854775808,18446744073709551616]}}"#,
    r#"{"a":"\u00e9\ud83d\ude00\n\"\\\/","b\u0041":true,"c":null,"d":[],"e":{}}"#,
    r#"  [ 1 , { "x" : [ { } ] } ]  "#,
    r#"{"a":1,"b":{"a":1,"b":2},"c":[{"a":1},{"a":2}]}"#,
    r#"{"z":1,"\ud83d\ude00":2,"\uffff":3,"é":[1.50,-0.0,1e21,1e-7,100],"A":{"b":null,"a":true}}"#,
    r#"{"a":1,"a":2}"#,
    r#"{"a":{"b":1,"b":1}}"#,
    r#"[{"x":1,"y":2,"x":3}]"#,
    r#"{"\u0061":1,"a":2}"#,
    r#"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"r":18,"a":19}"#,
    r#"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"r":18,"s":19}"#,
    r#"["\ud800"]"#,
    r#"["\udc00\ud800"]"#,
    "[\"a\u{1}\"]",
    r#"[1e400]"#,
    r#"[-1e400]"#,
    r#"[01]"#,
    r#"[1.]"#,
    r#"[.5]"#,
    r#"[+1]"#,
    r#"[1,]"#,
    r#"{"a":1,}"#,
    r#"{"a" 1}"#,
    r#"{1:1}"#,
    r#"[tru]"#,
    r#"[nul]"#,
    r#"{} x"#,
    r#"{}{}"#,
    "",
    "   ",
    r#""just a string""#,
    r#"[NaN]"#,
    r#"["\x"]"#,
    r#"["\u12"]"#,
];

#[test]
fn reads_what_the_parser_reads_and_refuses_what_it_refuses() {
    for text in TEXTS {
        same_as_parser(text, 64);
    }
    for depth in [1, 2, 3, 64] {
        for levels in [depth - 1, depth, depth + 1] {
            let nested = format!("{}1{}", "[".repeat(levels), "]".repeat(levels));
            same_as_parser(&nested, depth);
            let objects = format!("{}1{}", "{\"k\":".repeat(levels), "}".repeat(levels));
            same_as_parser(&objects, depth);
        }
    }
}

/// Every text one edit away from the corpus (deleting, doubling or replacing a byte with
/// one of JSON's own) is read alike.
#[test]
fn texts_one_edit_away_are_read_alike() {
    let bytes = br#"{}[]:,"\u0 1e-.tfn"#;
    for text in TEXTS.iter().take(10) {
        let t = text.as_bytes();
        for i in 0..t.len() {
            let mut edits = vec![
                [&t[..i], &t[i + 1..]].concat(),
                [&t[..=i], &t[i..]].concat(),
            ];
            for b in bytes {
                edits.push([&t[..i], &[*b][..], &t[i + 1..]].concat());
            }
            for e in edits {
                if let Ok(s) = std::str::from_utf8(&e) {
                    same_as_parser(s, 64);
                }
            }
        }
    }
}

/// Random token sequences, most of them not JSON: read alike.
#[test]
fn random_token_sequences_are_read_alike() {
    const TOKENS: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        " ",
        "\n",
        "\"a\"",
        "\"b\"",
        "\"a\\u00e9\"",
        "\"\\ud83d\\ude00\"",
        "\"\\ud800\"",
        "\"\\n\\\"\"",
        "\"\u{1}\"",
        "\"a\u{1f}\"",
        "\"é\"",
        "\"",
        "\\",
        "0",
        "1",
        "-",
        "-0",
        "12345678901234567890",
        "1.5e3",
        "1e400",
        "01",
        ".",
        "e",
        "+",
        "true",
        "false",
        "null",
        "nul",
        "x",
        "\t",
        "\u{7f}",
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let mut valid = 0;
    for _ in 0..60_000 {
        let len = 1 + next(10);
        let text: String = (0..len).map(|_| TOKENS[next(TOKENS.len())]).collect();
        if parse_strict(text.as_bytes(), 3).is_ok() {
            valid += 1;
        }
        same_as_parser(&text, 3);
    }
    // Enough of them are JSON for the comparison to mean something.
    assert!(valid > 1000, "{valid}");
}

#[test]
fn finds_keys_and_elements() {
    let tape = Tape::read(r#"{"a":[10,{"b":"\u00e9"},[1,2]],"c":"d","e\n":null}"#, 64).unwrap();
    let a = tape.get(ROOT, "a").unwrap();
    assert_eq!(tape.shape(a), Shape::Other);
    let b = tape.get(tape.index(a, 1).unwrap(), "b").unwrap();
    assert_eq!(tape.str(b), Some("é"));
    assert_eq!(
        tape.value(tape.index(a, 0).unwrap()),
        Some(&Value::from(10))
    );
    assert_eq!(tape.index(a, 3), None);
    assert_eq!(tape.str(tape.get(ROOT, "c").unwrap()), Some("d"));
    assert_eq!(tape.shape(tape.get(ROOT, "e\n").unwrap()), Shape::Null);
    assert_eq!(tape.get(ROOT, "x"), None);
    assert_eq!(tape.get(a, "a"), None);
}
