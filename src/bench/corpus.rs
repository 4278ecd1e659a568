//! A reproducible benchmark corpus: documents in the network's languages built from the Debian
//! hunspell dictionaries (Serbian Cyrillic and Latin, Croatian, Bosnian, English), with
//! realistic markings, and a query set — all from one seed.

use std::path::Path;

/// SplitMix64: small, fast, and the same sequence for the same seed everywhere.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// A Zipf-like pick: low indexes (frequent words) much more often.
    pub fn zipf(&mut self, n: usize) -> usize {
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        ((n as f64).powf(u) as usize).saturating_sub(1).min(n.saturating_sub(1))
    }
}

/// One language's vocabulary.
pub struct Vocabulary {
    pub language: &'static str,
    pub words: Vec<String>,
}

const DICTIONARIES: [(&str, &str); 5] = [
    ("sr", "/usr/share/hunspell/sr_RS.dic"),
    ("sr-Latn", "/usr/share/hunspell/sr_Latn_RS.dic"),
    ("hr", "/usr/share/hunspell/hr_HR.dic"),
    ("bs", "/usr/share/hunspell/bs_BA.dic"),
    ("en", "/usr/share/hunspell/en_US.dic"),
];
/// Words taken from each dictionary (shuffled by the seed, so the "frequent" ones differ).
const WORDS_PER_LANGUAGE: usize = 20_000;

pub fn vocabularies(rng: &mut Rng) -> Vec<Vocabulary> {
    let mut found = Vec::new();
    for (language, path) in DICTIONARIES {
        let Ok(text) = std::fs::read_to_string(Path::new(path)) else { continue };
        let mut words: Vec<String> = text
            .lines()
            .skip(1)
            .filter_map(|line| line.split('/').next())
            .filter(|w| {
                w.chars().count() >= 4 && w.chars().all(char::is_alphabetic) && w.chars().all(|c| !c.is_uppercase())
            })
            .map(str::to_owned)
            .collect();
        for i in (1..words.len()).rev() {
            words.swap(i, rng.below(i + 1));
        }
        words.truncate(WORDS_PER_LANGUAGE);
        found.push(Vocabulary { language, words });
    }
    if found.is_empty() {
        // Without the dictionaries (install hunspell-sr, -hr, -bs, -en-us) a tiny built-in one.
        let words = "analiza kriminal droga granica luka oružje novac mreža policija izvještaj \
                     анализа криминал дрога граница лука оружје новац мрежа полиција извештај"
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        found.push(Vocabulary { language: "sr", words });
    }
    found
}

/// A generated document; `uploader` is a demo persona of the originator organisation.
#[derive(Clone, Debug)]
pub struct CorpusDocument {
    pub uploader: &'static str,
    pub title: String,
    pub body: String,
    pub language: &'static str,
    pub classification: &'static str,
    pub tlp: &'static str,
    pub releasable_to: Vec<&'static str>,
    pub recipients: Vec<&'static str>,
    pub tags: Vec<&'static str>,
}

impl CorpusDocument {
    /// The upload's `metadata` part (a manifest line, with `file`).
    pub fn metadata(&self) -> serde_json::Value {
        serde_json::json!({
            "title": self.title,
            "language": self.language,
            "classification": self.classification,
            "tlp": self.tlp,
            "handling_code": "H1",
            "releasable_to": self.releasable_to,
            "recipients": self.recipients,
            "tags": self.tags,
            "publish": true,
        })
    }

    /// A SENSITIVE, TLP:AMBER document released to ALL: every analyst of the network sees it.
    pub fn shared(uploader: &'static str, title: String, body: String, language: &'static str) -> Self {
        Self {
            uploader,
            title,
            body,
            language,
            classification: "SENSITIVE",
            tlp: "AMBER",
            releasable_to: vec!["ALL"],
            recipients: vec![],
            tags: vec![],
        }
    }
}

/// Analysts who upload (clearance allows up to RESTRICTED for most of them).
pub const UPLOADERS: [(&str, &str); 7] = [
    ("analyst-al", "RESTRICTED"),
    ("analyst-ba", "SENSITIVE"),
    ("analyst-xk", "RESTRICTED"),
    ("analyst-me", "SENSITIVE"),
    ("analyst-mk", "RESTRICTED"),
    ("analyst-rs", "RESTRICTED"),
    ("advisor-europol", "RESTRICTED"),
];
const COUNTRIES: [&str; 7] = ["AL", "BA", "XK", "ME", "MK", "RS", "EU"];
const TAGS: [&str; 8] =
    ["drugs", "trafficking", "weapons", "cyber", "money-laundering", "migration", "terrorism", "corruption"];

pub fn document(rng: &mut Rng, vocabularies: &[Vocabulary]) -> CorpusDocument {
    let vocabulary = &vocabularies[rng.below(vocabularies.len())];
    let words = |rng: &mut Rng, n: usize| -> String {
        (0..n).map(|_| vocabulary.words[rng.zipf(vocabulary.words.len())].as_str()).collect::<Vec<_>>().join(" ")
    };
    let (uploader, clearance) = UPLOADERS[rng.below(UPLOADERS.len())];
    let classification = match (rng.below(100), clearance) {
        (0..=29, _) => "UNCLASSIFIED",
        (30..=79, _) | (_, "SENSITIVE") => "SENSITIVE",
        _ => "RESTRICTED",
    };
    let tlp = match rng.below(100) {
        0..=9 => "CLEAR",
        10..=39 => "GREEN",
        40..=79 => "AMBER",
        80..=94 => "AMBER+STRICT",
        _ => "RED",
    };
    let releasable_to = if rng.chance(30) {
        vec!["ALL"]
    } else {
        let mut countries: Vec<&'static str> =
            (0..1 + rng.below(3)).map(|_| COUNTRIES[rng.below(COUNTRIES.len())]).collect();
        countries.sort();
        countries.dedup();
        countries
    };
    let recipients = if tlp == "RED" { vec![UPLOADERS[rng.below(UPLOADERS.len())].0] } else { vec![] };
    let body_words = 40 + rng.below(120);
    let mut body = String::new();
    for sentence in 0..body_words / 12 + 1 {
        if sentence > 0 {
            body.push_str(". ");
        }
        body.push_str(&words(rng, 12));
    }
    let title_words = 4 + rng.below(4);
    CorpusDocument {
        uploader,
        title: words(rng, title_words),
        body,
        language: vocabulary.language,
        classification,
        tlp,
        releasable_to,
        recipients,
        tags: vec![TAGS[rng.below(TAGS.len())]],
    }
}

/// A query: one or two words of one language, asked by one persona.
#[derive(Clone, Debug)]
pub struct CorpusQuery {
    pub persona: &'static str,
    pub text: String,
}

pub fn queries(rng: &mut Rng, vocabularies: &[Vocabulary], count: usize) -> Vec<CorpusQuery> {
    (0..count)
        .map(|_| {
            let vocabulary = &vocabularies[rng.below(vocabularies.len())];
            // Words of middling frequency: neither stop-word-like nor unseen.
            let pick = |rng: &mut Rng| vocabulary.words[rng.zipf(vocabulary.words.len().min(2000))].clone();
            let text = if rng.chance(70) { pick(rng) } else { format!("{} {}", pick(rng), pick(rng)) };
            CorpusQuery { persona: UPLOADERS[rng.below(UPLOADERS.len())].0, text }
        })
        .collect()
}
