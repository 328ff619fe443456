//! Positions in text files, for error messages users act on (`line 3, column 12`, as editors count).

/// The 1-based line and column (in characters) of byte `offset` of `text`; offsets past the end or inside a
/// character count as the position just before.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::line_column;

    #[test]
    fn lines_and_columns_count_from_one_in_characters() {
        let text = "ab\nçd\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 3), (2, 1));
        assert_eq!(line_column(text, 5), (2, 2)); // after the two-byte `ç`
        assert_eq!(line_column(text, 4), (2, 1)); // inside `ç`
        assert_eq!(line_column(text, 99), (3, 1));
    }
}
