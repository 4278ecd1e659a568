//! Message catalogues (locales/*.toml, compiled in): English, Albanian, Serbian in Latin and
//! Cyrillic script (the Cyrillic one transliterated from the Latin, with overrides), Macedonian.
//! The language comes from the `lang` cookie set by the switcher, else from Accept-Language.

use std::collections::HashMap;

use actix_web::HttpRequest;

pub const LANGUAGES: [(&str, &str); 5] =
    [("en", "English"), ("sq", "Shqip"), ("sr-Latn", "Srpski"), ("sr-Cyrl", "Српски"), ("mk", "Македонски")];
pub const COOKIE: &str = "anaspoc_lang";

#[derive(Debug, thiserror::Error)]
#[error("message catalogue {locale}: {reason}")]
pub struct CatalogueError {
    locale: &'static str,
    reason: String,
}

/// Every language's messages, by key (`countries.RS`, `nav_search` …).
#[derive(Clone, Debug)]
pub struct Catalogues {
    messages: HashMap<&'static str, HashMap<String, String>>,
}

impl Catalogues {
    pub fn load() -> Result<Self, CatalogueError> {
        let parse = |locale: &'static str, text: &str| -> Result<HashMap<String, String>, CatalogueError> {
            let value: toml::Table =
                text.parse().map_err(|e: toml::de::Error| CatalogueError { locale, reason: e.to_string() })?;
            let mut flat = HashMap::new();
            flatten("", &toml::Value::Table(value), &mut flat);
            Ok(flat)
        };
        let english = parse("en", include_str!("../../locales/en.toml"))?;
        let latin = parse("sr-Latn", include_str!("../../locales/sr-Latn.toml"))?;
        let mut cyrillic: HashMap<String, String> = latin.iter().map(|(k, v)| (k.clone(), to_cyrillic(v))).collect();
        cyrillic.extend(parse("sr-Cyrl", include_str!("../../locales/sr-Cyrl.toml"))?);
        let mut messages = HashMap::new();
        for (locale, catalogue) in [
            ("sq", parse("sq", include_str!("../../locales/sq.toml"))?),
            ("mk", parse("mk", include_str!("../../locales/mk.toml"))?),
            ("sr-Latn", latin),
            ("sr-Cyrl", cyrillic),
        ] {
            if let Some(missing) = english.keys().find(|k| !catalogue.contains_key(*k)) {
                return Err(CatalogueError { locale, reason: format!("no message for `{missing}`") });
            }
            messages.insert(locale, catalogue);
        }
        messages.insert("en", english);
        Ok(Self { messages })
    }

    /// The catalogues for places without the application state (error pages); they are compiled
    /// in, so this is the same data [`Catalogues::load`] gives at start-up.
    pub fn shared() -> Option<&'static Catalogues> {
        static SHARED: std::sync::OnceLock<Option<Catalogues>> = std::sync::OnceLock::new();
        SHARED.get_or_init(|| Catalogues::load().ok()).as_ref()
    }

    /// The message `key` in `locale`, falling back to English, then to the key itself.
    pub fn get<'a>(&'a self, locale: &str, key: &'a str) -> &'a str {
        self.messages
            .get(locale)
            .and_then(|m| m.get(key))
            .or_else(|| self.messages.get("en").and_then(|m| m.get(key)))
            .map_or(key, String::as_str)
    }
}

fn flatten(prefix: &str, value: &toml::Value, out: &mut HashMap<String, String>) {
    match value {
        toml::Value::Table(table) => {
            for (key, value) in table {
                let name = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                flatten(&name, value, out);
            }
        }
        toml::Value::String(text) => {
            out.insert(prefix.to_owned(), text.clone());
        }
        other => {
            out.insert(prefix.to_owned(), other.to_string());
        }
    }
}

/// The language of a request: the switcher's cookie, else the best Accept-Language match.
pub fn negotiate(req: &HttpRequest) -> &'static str {
    if let Some(cookie) = req.cookie(COOKIE)
        && let Some((code, _)) = LANGUAGES.iter().find(|(code, _)| *code == cookie.value())
    {
        return code;
    }
    let header =
        req.headers().get(actix_web::http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mut ranges: Vec<(f32, String)> = header
        .split(',')
        .filter_map(|part| {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next()?.trim().to_ascii_lowercase();
            let quality = pieces.find_map(|p| p.trim().strip_prefix("q=")).and_then(|q| q.parse().ok()).unwrap_or(1.0);
            (!tag.is_empty()).then_some((quality, tag))
        })
        .collect();
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0));
    ranges.iter().find_map(|(_, tag)| supported(tag)).unwrap_or("en")
}

fn supported(tag: &str) -> Option<&'static str> {
    let primary = tag.split('-').next().unwrap_or_default();
    Some(match primary {
        "en" => "en",
        "sq" => "sq",
        "mk" => "mk",
        "sr" if tag.contains("latn") => "sr-Latn",
        "sr" => "sr-Cyrl",
        // Bosnian, Croatian and Montenegrin readers read Serbian Latin best of what we have.
        "bs" | "hr" | "cnr" => "sr-Latn",
        _ => return None,
    })
}

/// Serbian Latin to Cyrillic, word by word; words that are not Serbian (all capitals such as
/// TLP or SHA, placeholders in braces, search field names such as `title:`) are kept.
/// Field names of the search syntax: typed in Latin whatever the interface language.
const SEARCH_FIELDS: [&str; 3] = ["title", "tag", "language"];

pub fn to_cyrillic(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    let mut word = String::new();
    let mut in_braces = false;
    let flush = |word: &mut String, out: &mut String, next: Option<char>| {
        let keep = word.chars().all(|c| c.is_ascii_uppercase() || !c.is_alphabetic()) && word.chars().count() > 1
            || next == Some(':') && SEARCH_FIELDS.contains(&word.as_str());
        if keep {
            out.push_str(word)
        } else {
            out.push_str(&word_to_cyrillic(word))
        }
        word.clear();
    };
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c == '{' {
            in_braces = true;
        }
        if in_braces || !c.is_alphabetic() {
            if !word.is_empty() {
                flush(&mut word, &mut out, Some(c));
            }
            out.push(c);
            if c == '}' {
                in_braces = false;
            }
            continue;
        }
        word.push(c);
        if i + 1 == chars.len() {
            flush(&mut word, &mut out, None);
        }
    }
    out
}

fn word_to_cyrillic(word: &str) -> String {
    let mut out = String::with_capacity(word.len() * 2);
    let chars: Vec<char> = word.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied().map(|n| n.to_ascii_lowercase());
        let upper = c.is_uppercase();
        let lower = c.to_lowercase().next().unwrap_or(c);
        let (cyrillic, used) = match (lower, next) {
            ('l', Some('j')) => ('љ', 2),
            ('n', Some('j')) => ('њ', 2),
            ('d', Some('ž')) => ('џ', 2),
            (letter, _) => (single(letter), 1),
        };
        if upper {
            out.extend(cyrillic.to_uppercase())
        } else {
            out.push(cyrillic)
        }
        i += used;
    }
    out
}

fn single(c: char) -> char {
    match c {
        'a' => 'а',
        'b' => 'б',
        'v' => 'в',
        'g' => 'г',
        'd' => 'д',
        'đ' => 'ђ',
        'e' => 'е',
        'ž' => 'ж',
        'z' => 'з',
        'i' => 'и',
        'j' => 'ј',
        'k' => 'к',
        'l' => 'л',
        'm' => 'м',
        'n' => 'н',
        'o' => 'о',
        'p' => 'п',
        'r' => 'р',
        's' => 'с',
        't' => 'т',
        'ć' => 'ћ',
        'u' => 'у',
        'f' => 'ф',
        'h' => 'х',
        'c' => 'ц',
        'č' => 'ч',
        'š' => 'ш',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalogue_has_every_key() {
        let catalogues = Catalogues::load().expect("catalogues load");
        for (locale, _) in LANGUAGES {
            assert_ne!(catalogues.get(locale, "nav_search"), "nav_search", "{locale}");
        }
        assert_eq!(catalogues.get("sq", "countries.RS"), "Serbia");
        assert_eq!(catalogues.get("sr-Cyrl", "countries.BA"), "Босна и Херцеговина");
    }

    #[test]
    fn serbian_latin_becomes_cyrillic_but_codes_stay() {
        assert_eq!(to_cyrillic("Pređi na sadržaj"), "Пређи на садржај");
        assert_eq!(to_cyrillic("Ljubljana, Njegoš, džep"), "Љубљана, Његош, џеп");
        assert_eq!(to_cyrillic("Pronađeno dokumenata: {n}"), "Пронађено докумената: {n}");
        assert_eq!(to_cyrillic("Izvezi CSV i JSON"), "Извези CSV и JSON");
        assert_eq!(to_cyrillic("Polja: title:, tag:"), "Поља: title:, tag:");
    }
}
