use super::*;

#[test]
fn builds_a_positioned_tree() {
    let node = parse("a: 1\nb:\n  - x\n  - \"y\"\nc: ~\n").unwrap();
    let Value::Map(entries) = node.value else { panic!() };
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[1].0.at, Position { line: 2, column: 1 });
    let Value::List(items) = &entries[1].1.value else { panic!() };
    assert_eq!(items[1].value, Value::Scalar { text: "y".into(), quoted: true });
    assert_eq!(items[1].at, Position { line: 4, column: 5 });
    assert_eq!(entries[2].1.value, Value::Null);
}

#[test]
fn rejects_duplicates_and_bombs() {
    let e = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
    assert_eq!(e.message, "duplicate key \"a\" (first at line 1)");
    assert_eq!(e.at.line, 3);
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..8 {
        let prev = format!("*a{}", i - 1);
        bomb.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 10].join(", ")));
    }
    assert!(parse(&bomb).unwrap_err().message.starts_with("too many nodes"));
    let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
    assert_eq!(parse(&deep).unwrap_err().message, "too deeply nested");
    assert!(parse("a: [1, 2").is_err());
}

#[test]
fn aliases_expand() {
    let node = parse("x: &v hello\ny: *v\n").unwrap();
    let Value::Map(entries) = node.value else { panic!() };
    assert_eq!(entries[1].1.value.as_text(), Some("hello"));
}
