//! One analysis chain for every language and script of the network (docs/architecture.md, "A search"):
//! words are lower-cased, Serbian and Macedonian Cyrillic is transliterated to Latin, then
//! diacritics are folded (č ć → c, š → s, ž → z, ë → e, ç → c). People write đ as "dj" or "d",
//! so at index time a word with đ (or dj) yields both forms at the same position
//! ("đorđević" → "djordjevic" and "dordevic"); at query time only the "d" form is produced, which
//! every spelling of the word has in the index. Inflection is met half-way by a light, shared
//! suffix stripper (Београду, Beograda → beograd; policiji, policijata → policij): the index holds
//! the stem too, and queries look for the stem. Offsets always point into the original text, so
//! snippets highlight the words in their original script.

use std::sync::Arc;

use tantivy::tokenizer::{TextAnalyzer, Token, TokenStream, Tokenizer};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Tokenizer name registered on every index and query parser.
pub const ANALYZER: &str = "anaspoc";

/// Longer words are not indexed (base64 blobs, hashes, garbage).
const MAX_WORD_BYTES: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Both forms of đ/dj words.
    Index,
    /// The "d" form only.
    Query,
}

#[derive(Clone)]
pub struct FoldingTokenizer {
    mode: Mode,
    /// When set, words whose first letter (folded) is not one of these are skipped unfolded.
    first_letters: Option<Arc<[char]>>,
}

impl FoldingTokenizer {
    pub fn analyzer(mode: Mode) -> TextAnalyzer {
        TextAnalyzer::from(FoldingTokenizer { mode, first_letters: None })
    }

    /// The query forms of only those words that may be one of `terms` (query forms too): what
    /// snippets need. A word whose first letter differs from every term's is skipped without
    /// being folded — most words of a text, and folding them was most of a search's work.
    pub fn matching<'a>(terms: impl IntoIterator<Item = &'a str>) -> TextAnalyzer {
        let mut letters: Vec<char> = terms.into_iter().filter_map(|term| term.chars().next()).collect();
        letters.sort_unstable();
        letters.dedup();
        TextAnalyzer::from(FoldingTokenizer { mode: Mode::Query, first_letters: Some(letters.into()) })
    }
}

pub struct FoldedTokens {
    tokens: Vec<Token>,
    next: usize,
}

impl TokenStream for FoldedTokens {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

impl Tokenizer for FoldingTokenizer {
    type TokenStream<'a> = FoldedTokens;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> FoldedTokens {
        let mut tokens = Vec::new();
        let mut position = 0;
        for (start, end) in words(text) {
            let word = &text[start..end];
            if let (Some(letters), Some(letter)) = (&self.first_letters, first_letter(word))
                && letters.binary_search(&letter).is_err()
            {
                // Still a token, with no text (no term is empty): snippets build their
                // fragments from the offsets of every word, matched or not.
                tokens.push(Token {
                    offset_from: start,
                    offset_to: end,
                    position,
                    text: String::new(),
                    position_length: 1,
                });
                position += 1;
                continue;
            }
            let forms = fold_word(word, self.mode);
            if forms.is_empty() {
                continue;
            }
            for form in forms {
                tokens.push(Token { offset_from: start, offset_to: end, position, text: form, position_length: 1 });
            }
            position += 1;
        }
        FoldedTokens { tokens, next: 0 }
    }
}

/// Byte ranges of the words of `text`: runs of letters, digits and combining marks.
fn words(text: &str) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        // ASCII first: most characters of most texts, and far cheaper than the Unicode tables.
        let in_word =
            if c.is_ascii() { c.is_ascii_alphanumeric() } else { c.is_alphanumeric() || is_combining_mark(c) };
        match (in_word, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                ranges.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        ranges.push((s, text.len()));
    }
    ranges
}

/// The indexed (or queried) forms of one word; empty when the word is not indexed. Query mode
/// allocates the one form it returns and nothing else: it runs for every word of every hit's
/// text when snippets are made.
pub fn fold_word(word: &str, mode: Mode) -> Vec<String> {
    let folded = if word.is_ascii() { word.to_ascii_lowercase() } else { fold_unicode(word) };
    if folded.is_empty() || folded.len() > MAX_WORD_BYTES {
        return Vec::new();
    }
    let has_dj = folded.contains('đ') || folded.contains("dj");
    let d_form_of = |folded: &str| folded.replace('đ', "d").replace("dj", "d");
    match mode {
        Mode::Query => {
            let mut stem = if has_dj { d_form_of(&folded) } else { folded };
            stem.truncate(stem_of(&stem).len());
            vec![stem]
        }
        Mode::Index => {
            let d_form = if has_dj { d_form_of(&folded) } else { folded.clone() };
            let stem = stem_of(&d_form).to_owned();
            let dj_form = if folded.contains('đ') { folded.replace('đ', "dj") } else { folded };
            let mut forms = vec![dj_form, d_form, stem];
            forms.sort();
            forms.dedup();
            forms
        }
    }
}

/// The first letter of `word`'s forms (every form of a word starts with it), folding only
/// that letter; `None` when it alone does not tell (a letter that folds to nothing).
fn first_letter(word: &str) -> Option<char> {
    let first = word.chars().next()?;
    if first.is_ascii() {
        return Some(first.to_ascii_lowercase());
    }
    let folded = fold_unicode(&word[..first.len_utf8()]);
    folded.chars().next().map(|letter| if letter == 'đ' { 'd' } else { letter })
}

/// Lower-case, transliterate Cyrillic, decompose and drop the marks (đ kept for later).
fn fold_unicode(word: &str) -> String {
    let mut latin = String::with_capacity(word.len());
    for c in word.chars().flat_map(char::to_lowercase) {
        match transliterate(c) {
            Some(s) => latin.push_str(s),
            None => latin.push(c),
        }
    }
    // Decompose and drop the marks: č ć → c, š → s, ž → z, ë → e, ç → c, ü → u …
    let mut folded = String::with_capacity(latin.len());
    for c in latin.nfd().filter(|c| !is_combining_mark(*c)) {
        match c {
            // đ has no decomposition; keep it and expand in the caller.
            'đ' => folded.push('đ'),
            'ł' => folded.push('l'),
            'ø' => folded.push('o'),
            'ß' => folded.push_str("ss"),
            'æ' => folded.push_str("ae"),
            'œ' => folded.push_str("oe"),
            'ı' => folded.push('i'),
            other => folded.push(other),
        }
    }
    folded
}

/// Inflectional endings of the network's languages (after transliteration and folding),
/// longest first: Bosnian/Croatian/Montenegrin/Serbian cases, Macedonian and Albanian
/// definite forms, English plurals and participles.
const SUFFIXES: [&str; 36] = [
    "ovima", "evima", "ijama", "ijom", "ama", "ima", "oga", "omu", "emu", "ega", "ata", "oto", "ite", "eve", "ing",
    "ise", "om", "em", "og", "eg", "ih", "im", "oj", "ot", "ta", "to", "te", "ve", "it", "in", "ed", "es", "a", "e",
    "i", "u",
];
/// A stem keeps at least this many characters.
const MIN_STEM_CHARS: usize = 4;

/// Strip up to two inflectional endings (an article on a case ending: policijata → policij),
/// keeping a stem of at least four letters. Light by design: it only has to make the forms of
/// one word meet, not produce a dictionary root.
pub fn light_stem(word: &str) -> String {
    stem_of(word).to_owned()
}

/// [`light_stem`] as a prefix of `word`.
fn stem_of(word: &str) -> &str {
    if word.bytes().any(|b| b.is_ascii_digit()) {
        return word;
    }
    strip_ending(strip_ending(word))
}

fn strip_ending(word: &str) -> &str {
    let chars = word.chars().count();
    let last = word.as_bytes().last().copied().unwrap_or_default();
    // Compare the last byte first: most suffixes are ruled out without a string comparison.
    for suffix in SUFFIXES.iter().filter(|s| s.as_bytes().last() == Some(&last)) {
        if let Some(stem) = word.strip_suffix(suffix)
            && chars - suffix.len() >= MIN_STEM_CHARS
        {
            return stem;
        }
    }
    if let Some(stem) = word.strip_suffix('s')
        && chars > MIN_STEM_CHARS
        && !stem.ends_with('s')
    {
        return stem;
    }
    word
}

/// Serbian and Macedonian Cyrillic (plus the letters of neighbouring alphabets that turn up in
/// names) to Serbian Latin, before diacritics are folded.
fn transliterate(c: char) -> Option<&'static str> {
    Some(match c {
        'а' => "a",
        'б' => "b",
        'в' => "v",
        'г' => "g",
        'д' => "d",
        'ђ' => "đ",
        'ѓ' => "gj",
        'е' => "e",
        'ж' => "ž",
        'з' => "z",
        'ѕ' => "dz",
        'и' => "i",
        'ј' => "j",
        'к' => "k",
        'л' => "l",
        'љ' => "lj",
        'м' => "m",
        'н' => "n",
        'њ' => "nj",
        'о' => "o",
        'п' => "p",
        'р' => "r",
        'с' => "s",
        'т' => "t",
        'ћ' => "ć",
        'ќ' => "kj",
        'у' => "u",
        'ф' => "f",
        'х' => "h",
        'ц' => "c",
        'ч' => "č",
        'џ' => "dž",
        'ш' => "š",
        // Russian, Ukrainian and Bulgarian letters seen in names.
        'й' => "j",
        'ы' => "y",
        'э' => "e",
        'ю' => "ju",
        'я' => "ja",
        'щ' => "šč",
        'ё' => "e",
        'є' => "je",
        'і' => "i",
        'ї' => "ji",
        'ъ' | 'ь' => "",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(text: &str) -> Vec<(usize, String)> {
        let mut tokenizer = FoldingTokenizer { mode: Mode::Index, first_letters: None };
        let mut stream = tokenizer.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            out.push((stream.token().position, stream.token().text.clone()));
        }
        out
    }

    fn query(text: &str) -> Vec<String> {
        let mut tokenizer = FoldingTokenizer { mode: Mode::Query, first_letters: None };
        let mut stream = tokenizer.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            out.push(stream.token().text.clone());
        }
        out
    }

    fn texts(tokens: &[(usize, String)]) -> Vec<&str> {
        tokens.iter().map(|(_, t)| t.as_str()).collect()
    }

    #[test]
    fn serbian_cyrillic_and_latin_meet() {
        for word in ["Београд", "Beograd", "BEOGRAD", "београд", "Београду", "Beograda"] {
            assert_eq!(query(word), ["beograd"], "{word}");
        }
        let cyrillic = query("Чачак Шабац Жабаљ Ћуприја Љубовија Његош");
        assert_eq!(cyrillic, query("Čačak Šabac Žabalj Ćuprija Ljubovija Njegoš"));
        assert_eq!(cyrillic, query("cacak sabac zabalj cuprija ljubovija njegos"));
    }

    #[test]
    fn dj_and_d_spellings_of_dj_find_each_other() {
        let indexed = index("Ђорђевић");
        assert_eq!(texts(&indexed), ["djordjevic", "dordevic"]);
        assert!(indexed.iter().all(|(p, _)| *p == 0), "both forms at the same position");
        assert_eq!(texts(&index("Đorđević")), ["djordjevic", "dordevic"]);
        assert_eq!(texts(&index("Djordjevic")), ["djordjevic", "dordevic"]);
        assert_eq!(texts(&index("Dordevic")), ["dordevic"]);
        for spelling in ["Djordjevic", "Dordevic", "Đorđević", "Ђорђевић", "DJORDJEVIĆ", "Ђорђевића"]
        {
            assert_eq!(query(spelling), ["dordevic"], "{spelling}");
        }
    }

    #[test]
    fn macedonian_letters_and_articles() {
        assert_eq!(query("Ѓорѓи Ќосе Ѕвезда Џамија Скопје"), query("Gjorgji Kjose Dzvezda Dzamija Skopje"));
        assert_eq!(query("Ѕвезда"), ["dzvezd"]);
        assert_eq!(query("полицијата"), query("полиција"), "the definite article is an ending");
        assert_eq!(query("Охрид Битола Куманово"), query("Ohrid Bitola Kumanovo"));
    }

    #[test]
    fn albanian_bosnian_croatian_english() {
        assert_eq!(query("Shqipëri Kosovë"), query("shqiperi kosove"));
        assert_eq!(query("Shqipëria"), query("Shqipëri"));
        assert_eq!(query("Bihać"), ["bihac"]);
        assert_eq!(query("policiji"), query("policija"));
        assert_eq!(query("trafficking drugs 2026"), ["traffick", "drug", "2026"]);
    }

    #[test]
    fn stems_keep_four_letters() {
        assert_eq!(light_stem("kuca"), "kuca", "no stem below four letters");
        assert_eq!(light_stem("organizovanim"), light_stem("organizovana"));
        assert_eq!(light_stem("kriminal"), "kriminal");
        assert_eq!(light_stem("2026"), "2026");
    }

    #[test]
    fn offsets_point_into_the_original_text_and_positions_advance() {
        let text = "Ђорђе, Београд!";
        let mut tokenizer = FoldingTokenizer { mode: Mode::Index, first_letters: None };
        let mut stream = tokenizer.token_stream(text);
        let mut seen = Vec::new();
        while stream.advance() {
            let t = stream.token();
            seen.push((t.position, &text[t.offset_from..t.offset_to], t.text.clone()));
        }
        assert_eq!(
            seen,
            [
                (0, "Ђорђе", "djordje".to_owned()),
                (0, "Ђорђе", "dord".to_owned()),
                (0, "Ђорђе", "dorde".to_owned()),
                (1, "Београд", "beograd".to_owned()),
            ]
        );
    }

    #[test]
    fn decomposed_input_and_punctuation() {
        // "č" written as c + combining caron is one word, folded like the precomposed letter.
        assert_eq!(query("Čac\u{030C}ak"), ["cacak"]);
        assert_eq!(query("e-mail: a.b@mup.gov.rs"), ["e", "mail", "a", "b", "mup", "gov", "rs"]);
        assert_eq!(query("Čačak"), ["cacak"]);
        assert!(query(&"x".repeat(100)).is_empty(), "overlong words are not indexed");
        assert!(query("— … «»").is_empty());
    }

    proptest::proptest! {
        /// Skipping a word by its first letter never skips a word a snippet should mark: the
        /// letter found alone is the first letter of the word's query form.
        #[test]
        fn the_first_letter_alone_is_the_first_letter_of_the_query_form(
            word in "[a-zA-ZđĐčćšžČĆŠŽëçÇËäöüßæœłø\u{301}\u{308}абвгдђѓежзѕијклљмнњопрстћќуфхцчџшъьЂЃЈЉЊЋЌЏ]{1,12}"
        ) {
            let forms = fold_word(&word, Mode::Query);
            if let (Some(form), Some(letter)) = (forms.first(), first_letter(&word)) {
                proptest::prop_assert_eq!(form.chars().next(), Some(letter), "{} → {}", word, form);
            }
        }
    }

    #[test]
    fn snippet_tokens_are_the_query_forms_of_the_words_that_may_match() {
        let mut matching = FoldingTokenizer::matching(["beograd", "dordevic"]);
        let mut stream = matching.token_stream("Полиција у Београду; Ђорђевић и Nikolić, BEOGRADA");
        let mut found = Vec::new();
        while stream.advance() {
            found.push(stream.token().text.clone());
        }
        assert_eq!(
            found,
            ["", "", "beograd", "dordevic", "", "", "beograd"],
            "words starting b or d folded, every other word a token without text"
        );
    }
}
