use super::*;

fn read(text: &str) -> Result<Variables, (usize, String)> {
    let outside = |name: &str| (name == "HOME").then(|| "/root".to_string());
    parse(text, &|name, so_far| {
        so_far.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone()).or_else(|| outside(name))
    })
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn every_form_of_a_line() {
    let text = "# a comment\n\nPLAIN=value\nexport EXPORTED=yes\n  SPACED = padded value   # note\n\
                    SINGLE='literal ${HOME} \\n'\nDOUBLE=\"line\\nnext \\\"quoted\\\" \\\\ \\$HOME ${HOME}\"\n\
                    REF=${PLAIN}-${MISSING:-fallback}\nEMPTY=\nHASH=a#b\nPLAIN=again\n";
    assert_eq!(
        read(text),
        Ok(pairs(&[
            ("EXPORTED", "yes"),
            ("SPACED", "padded value"),
            ("SINGLE", "literal ${HOME} \\n"),
            ("DOUBLE", "line\nnext \"quoted\" \\ $HOME /root"),
            ("REF", "value-fallback"),
            ("EMPTY", ""),
            ("HASH", "a#b"),
            ("PLAIN", "again"),
        ]))
    );
}

#[test]
fn bad_lines_say_which_and_why() {
    for (text, line, why) in [
        ("A=1\nno equals here\n", 2, "\"no equals here\" is not KEY=VALUE"),
        ("1A=x\n", 1, "\"1A\" is not a variable name (letters, digits and _)"),
        ("A=\"open\n", 1, "no closing \" (a value spans one line)"),
        ("A='open\n", 1, "no closing ' (a value spans one line)"),
        ("A='x' y\n", 1, "\"y\" after the closing quote"),
        ("A=${B\n", 1, "${ without its closing }"),
        ("A=\"${B C}\"\n", 1, "\"${B C}\" does not name a variable"),
    ] {
        assert_eq!(read(text), Err((line, why.to_string())), "{text:?}");
    }
}
