use super::*;

#[test]
fn appends_exactly_the_range_wherever_it_lies() {
    let source: Vec<u8> = (0..=255u8).cycle().take(300).collect();
    for start in [0, 1, 31, 32, 33, 200, 268, 299, 300] {
        for len in [0, 1, 5, 31, 32, 33, 64, 100, 255, 256, 257, 290] {
            let Some(wanted) = source.get(start..start + len) else { continue };
            let mut out = b"before".to_vec();
            append(&mut out, &source, start..start + len);
            assert_eq!(&out[..6], b"before");
            assert_eq!(&out[6..], wanted, "{len} bytes from {start}");
        }
    }
    let mut out = Vec::new();
    append(&mut out, &source, 290..310);
    assert!(out.is_empty(), "a range past the end appends nothing");
    let mut label = b"web | ".to_vec();
    assert_eq!(pad(&mut label), 6);
    append(&mut out, &label, 0..6);
    assert_eq!(out, b"web | ");
}
