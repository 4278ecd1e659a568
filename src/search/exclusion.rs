//! Excluded clauses (`smuggling -"border crossing"`) made safe to run in every build.
//!
//! tantivy 0.27's `Exclude` asks an excluded clause whether the first included document is in
//! it without first checking that the clause has not already moved past that document. A phrase
//! clause asserts it has not: in a build with debug assertions (tests, fuzzing) the search
//! panics; in a release build the answer happens to be right (the postings stay where they are).
//! Found by the `search_query` fuzz target with `q=O+++-O\O\-`. Every excluded clause is wrapped
//! in a scorer that answers such a question itself — as tantivy's own default does — so the
//! answer is right and nothing panics in any build.
//!
//! Boosts on a group (`(a -"b c")^2`) are dropped before the query is built: tantivy offers no
//! way to reach inside a boost to guard what it holds, and a group's boost only scales a score
//! every hit of the query shares.

use tantivy::query::{BooleanQuery, EnableScoring, Explanation, Occur, Query, Scorer, Weight};
use tantivy::query_grammar::UserInputAst;
use tantivy::{DocId, DocSet, Score, SegmentReader, Term};

/// The query with every excluded clause, at any depth of nested boolean queries, guarded.
pub fn guard_exclusions(query: Box<dyn Query>) -> Box<dyn Query> {
    match query.downcast::<BooleanQuery>() {
        Ok(boolean) => {
            let clauses = boolean
                .clauses()
                .iter()
                .map(|(occur, clause)| {
                    let clause = guard_exclusions(clause.box_clone());
                    let clause: Box<dyn Query> =
                        if *occur == Occur::MustNot { Box::new(Excluded(clause)) } else { clause };
                    (*occur, clause)
                })
                .collect();
            let mut rebuilt = BooleanQuery::new(clauses);
            rebuilt.set_minimum_number_should_match(boolean.get_minimum_number_should_match());
            Box::new(rebuilt)
        }
        Err(other) => other,
    }
}

/// The parsed query without boosts on groups (boosts on single words and phrases stay).
pub fn unboost_groups(ast: UserInputAst) -> UserInputAst {
    match ast {
        UserInputAst::Boost(inner, boost) => match *inner {
            clause @ UserInputAst::Clause(_) => unboost_groups(clause),
            other => UserInputAst::Boost(Box::new(unboost_groups(other)), boost),
        },
        UserInputAst::Clause(clauses) => {
            UserInputAst::Clause(clauses.into_iter().map(|(occur, ast)| (occur, unboost_groups(ast))).collect())
        }
        leaf @ UserInputAst::Leaf(_) => leaf,
    }
}

#[derive(Debug)]
struct Excluded(Box<dyn Query>);

impl Clone for Excluded {
    fn clone(&self) -> Self {
        Self(self.0.box_clone())
    }
}

impl Query for Excluded {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(ExcludedWeight(self.0.weight(scoring)?)))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        self.0.query_terms(visitor);
    }
}

struct ExcludedWeight(Box<dyn Weight>);

impl Weight for ExcludedWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        Ok(Box::new(ForwardOnly(self.0.scorer(reader, boost)?)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        self.0.explain(reader, doc)
    }
}

/// A scorer that never seeks backwards: asked for a document it has passed, it answers where
/// it is (tantivy's default `seek_danger` then reports "not here").
struct ForwardOnly(Box<dyn Scorer>);

impl DocSet for ForwardOnly {
    fn advance(&mut self) -> DocId {
        self.0.advance()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        let doc = self.0.doc();
        if target <= doc { doc } else { self.0.seek(target) }
    }

    fn doc(&self) -> DocId {
        self.0.doc()
    }

    fn size_hint(&self) -> u32 {
        self.0.size_hint()
    }

    fn cost(&self) -> u64 {
        self.0.cost()
    }
}

impl Scorer for ForwardOnly {
    fn score(&mut self) -> Score {
        self.0.score()
    }
}

#[cfg(test)]
mod tests {
    use tantivy::collector::DocSetCollector;
    use tantivy::schema::{STORED, Schema, TEXT};
    use tantivy::{Index, IndexWriter, doc};

    use super::*;

    /// (index, text field) holding `texts`, one document each, in one segment.
    fn index(texts: &[&str]) -> (Index, tantivy::schema::Field) {
        let mut schema = Schema::builder();
        let text = schema.add_text_field("text", TEXT | STORED);
        let index = Index::create_in_ram(schema.build());
        let mut writer: IndexWriter = index.writer_with_num_threads(1, 15_000_000).expect("writer");
        for t in texts {
            writer.add_document(doc!(text => *t)).expect("add");
        }
        writer.commit().expect("commit");
        (index, text)
    }

    fn matching(index: &Index, field: tantivy::schema::Field, q: &str) -> Vec<DocId> {
        let parser = tantivy::query::QueryParser::for_index(index, vec![field]);
        let query = guard_exclusions(parser.parse_query(q).expect("parses"));
        let searcher = index.reader().expect("reader").searcher();
        let mut found: Vec<DocId> =
            searcher.search(&query, &DocSetCollector).expect("runs").into_iter().map(|a| a.doc_id).collect();
        found.sort();
        found
    }

    /// The fuzz finding: an excluded phrase whose words are in the index but whose first match
    /// comes after the first included document (here: none at all, and the third document).
    #[test]
    fn an_excluded_phrase_excludes_exactly_its_matches() {
        let (index, text) = index(&[
            "border smuggling report",
            "smuggling border crossing",
            "crossing the border smuggling",
            "weapons border crossing smuggling",
        ]);
        assert_eq!(matching(&index, text, r#"smuggling -"border crossing""#), vec![0, 2]);
        assert_eq!(matching(&index, text, r#"smuggling -"crossing the border""#), vec![0, 1, 3]);
        assert_eq!(matching(&index, text, r#"smuggling -"report crossing""#), vec![0, 1, 2, 3]);
        assert_eq!(matching(&index, text, r#"O+++-O\O\-"#), Vec::<DocId>::new());
        assert_eq!(matching(&index, text, r#"(smuggling -("border crossing" OR weapons))"#), vec![0, 2]);
    }

    #[test]
    fn group_boosts_are_dropped_and_word_boosts_kept() {
        let ast = tantivy::query_grammar::parse_query_lenient(r#"(a -"b c")^2 d^3"#).0;
        let text = format!("{:?}", unboost_groups(ast));
        assert!(!text.contains("^2"), "{text}");
        assert!(text.contains("^3"), "{text}");
    }
}
